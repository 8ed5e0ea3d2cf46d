using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace EfficientCnn.MLNet.Persistence;

/// <summary>
/// Makes EfficientCnn transformers loadable by <c>mlContext.Model.Load</c>.
/// </summary>
/// <remarks>
/// <para>How ML.NET 5 loads a model entry (ModelLoading.cs, ComponentCatalog.cs): it reads the entry header's loader
/// signature and loader assembly name, calls <c>Assembly.Load(loaderAssemblyName)</c> and
/// <c>ComponentCatalog.RegisterAssembly</c> on it (which collects the assembly's <c>[assembly: LoadableClass]</c>
/// attributes), then looks the signature up in that catalog and calls the class's
/// <c>Create(IHostEnvironment, ModelLoadContext)</c>. <c>LoadableClassAttribute</c>, <c>ModelLoadContext</c> and
/// <c>SignatureLoadModel</c> are internal, so C# code outside ML.NET cannot declare such a class.</para>
/// <para>This class emits, at run time, a small dynamic assembly named <see cref="AssemblyName"/> that carries the
/// attributes and one <c>Create</c> shim per transformer (built with reflection from the internal types, with
/// <c>IgnoresAccessChecksTo</c> so the runtime allows the references). Saved models name that assembly as their
/// loader; a module initializer of EfficientCnn.MLNet hooks <see cref="AppDomain.AssemblyResolve"/> so that ML.NET's
/// <c>Assembly.Load</c> finds it. Every <see cref="MLContext"/> in the process then loads our models with no
/// registration call, once any code of EfficientCnn.MLNet has run (<see cref="EnsureRegistered()"/> is the explicit
/// way to guarantee that in a scoring-only program).</para>
/// </remarks>
public static class ModelLoaderAssembly
{
    /// <summary>Simple name of the emitted loader assembly, written into every saved model header.</summary>
    public const string AssemblyName = "EfficientCnn.MLNet.ModelLoaders";

    private static readonly Lazy<Assembly> instance = new(Emit, LazyThreadSafetyMode.ExecutionAndPublication);
    private static int hooked;

    /// <summary>The loadable transformers: instance type, loader signature, and the internal static load method.</summary>
    private static readonly (Type Instance, string Signature, string LoadMethod)[] Loaders =
    [
        (typeof(OnnxImageTransformer), OnnxImageTransformer.LoaderSignature, nameof(OnnxImageTransformer.LoadFromModelContext)),
    ];

    /// <summary>The emitted assembly (created on first use).</summary>
    public static Assembly Instance => instance.Value;

    /// <summary>
    /// Guarantees that models saved by EfficientCnn.MLNet load in this process: hooks assembly resolution (idempotent).
    /// Runs automatically when EfficientCnn.MLNet's code is first used; call it at start-up in a program that only loads
    /// models and otherwise never touches this library.
    /// </summary>
    public static void EnsureRegistered()
    {
        if (Interlocked.Exchange(ref hooked, 1) == 0)
            AppDomain.CurrentDomain.AssemblyResolve += Resolve;
    }

    /// <summary>Registers the loaders in one catalog directly (not needed when <see cref="EnsureRegistered()"/> ran).</summary>
    public static void EnsureRegistered(ComponentCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        EnsureRegistered();
        catalog.RegisterAssembly(Instance);
    }

#pragma warning disable CA2255 // A library module initializer is the point here: it hooks resolution before any model load.
    [ModuleInitializer]
    internal static void OnModuleLoad() => EnsureRegistered();
#pragma warning restore CA2255

    private static Assembly? Resolve(object? sender, ResolveEventArgs args) =>
        new AssemblyName(args.Name).Name == AssemblyName ? Instance : null;

    private static Assembly Emit()
    {
        var builder = AssemblyBuilder.DefineDynamicAssembly(new AssemblyName(AssemblyName), AssemblyBuilderAccess.Run);
        // Let the emitted code and attributes name internal ML.NET types and our internal load methods.
        var ignoreChecks = typeof(IgnoresAccessChecksToAttribute).GetConstructor([typeof(string)])!;
        builder.SetCustomAttribute(new CustomAttributeBuilder(ignoreChecks, [MlNetInternals.Core.GetName().Name!]));
        builder.SetCustomAttribute(new CustomAttributeBuilder(ignoreChecks, [typeof(ModelLoaderAssembly).Assembly.GetName().Name!]));
        var module = builder.DefineDynamicModule(AssemblyName);

        foreach (var (instanceType, signature, loadMethodName) in Loaders)
        {
            var load = instanceType.GetMethod(loadMethodName, BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public, [typeof(IHostEnvironment), typeof(object)])
                       ?? throw new InvalidOperationException($"{instanceType.Name}.{loadMethodName}(IHostEnvironment, object) is missing.");
            // public static class <Name>Loader { public static T Create(IHostEnvironment env, ModelLoadContext ctx) => T.Load(env, ctx); }
            var type = module.DefineType($"{AssemblyName}.{instanceType.Name}Loader", TypeAttributes.Public | TypeAttributes.Abstract | TypeAttributes.Sealed | TypeAttributes.Class);
            var create = type.DefineMethod("Create", MethodAttributes.Public | MethodAttributes.Static, instanceType, [typeof(IHostEnvironment), MlNetInternals.ModelLoadContext]);
            var il = create.GetILGenerator();
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Call, load);
            il.Emit(OpCodes.Ret);
            var loaderType = type.CreateType();

            // [assembly: LoadableClass(typeof(T), typeof(<Name>Loader), null, typeof(SignatureLoadModel), signature, signature)]
            builder.SetCustomAttribute(new CustomAttributeBuilder(MlNetInternals.LoadableClassConstructor,
                [instanceType, loaderType, null, MlNetInternals.SignatureLoadModel, signature, new[] { signature }]));
        }
        return builder;
    }
}
