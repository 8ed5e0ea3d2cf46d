using System.Reflection;
using EfficientCnn.MLNet.ModelLoaders;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace EfficientCnn.MLNet.Persistence;

/// <summary>
/// The loader assembly that makes EfficientCnn transformers loadable by plain <c>mlContext.Model.Load</c>, in any
/// process that references EfficientCnn.MLNet, with no call of ours first.
/// </summary>
/// <remarks>
/// <para>How ML.NET 6 loads a model entry (ModelLoading.cs, ComponentCatalog.cs): it reads the entry header's loader
/// signature and loader assembly name, calls <c>Assembly.Load(loaderAssemblyName)</c> and
/// <c>ComponentCatalog.RegisterAssembly</c> on it (which collects the assembly's <c>[assembly: LoadableClass]</c>
/// attributes), then looks the signature up in that catalog and calls the class's
/// <c>Create(IHostEnvironment, ModelLoadContext)</c>. <c>LoadableClassAttribute</c>, <c>ModelLoadContext</c> and
/// <c>SignatureLoadModel</c> are internal, so no C# compiler writes such a class.</para>
/// <para>The build writes that assembly, <see cref="AssemblyName"/>, as a real file (build/ModelLoaders: metadata
/// written with System.Reflection.Metadata, <c>IgnoresAccessChecksTo</c> for the internal references). It ships in the
/// package's lib/ folder next to EfficientCnn.MLNet.dll and EfficientCnn.MLNet references it, so it is in every
/// application's output and deps.json, where ML.NET's <c>Assembly.Load</c> finds it. Nothing is emitted at run time.</para>
/// </remarks>
public static class ModelLoaderAssembly
{
    /// <summary>Simple name of the loader assembly, written into every saved model header.</summary>
    public const string AssemblyName = "EfficientCnn.MLNet.ModelLoaders";

    /// <summary>The loader assembly.</summary>
    public static Assembly Instance => typeof(OnnxImageTransformerLoader).Assembly;

    /// <summary>
    /// Not needed: models load without it. Kept for programs written against earlier versions; checks that the loader
    /// assembly is present (it is deployed with EfficientCnn.MLNet).
    /// </summary>
    /// <exception cref="FileNotFoundException">The application was deployed without EfficientCnn.MLNet.ModelLoaders.dll.</exception>
    public static void EnsureRegistered() => _ = Instance;

    /// <summary>Registers the loaders in one catalog directly (ML.NET does this itself on Model.Load).</summary>
    public static void EnsureRegistered(ComponentCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        catalog.RegisterAssembly(Instance);
    }
}
