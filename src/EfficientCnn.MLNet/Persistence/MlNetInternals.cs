using System.Reflection;
using Microsoft.ML;

namespace EfficientCnn.MLNet.Persistence;

/// <summary>
/// Reflection access to the parts of ML.NET's model format that Microsoft.ML 6 keeps internal ([BestFriend]):
/// <c>VersionInfo</c>, <c>ModelSaveContext.Writer/SetVersionInfo/SaveBinaryStream</c>, <c>ModelLoadContext</c>,
/// <c>SignatureLoadModel</c> and <c>LoadableClassAttribute</c>. These have kept their shape since ML.NET 0.x; every
/// lookup fails fast with a message naming the member and the ML.NET version, never silently.
/// </summary>
internal static class MlNetInternals
{
    private const BindingFlags AnyInstance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

    public static Assembly Core { get; } = typeof(ModelSaveContext).Assembly;

    public static Type VersionInfo { get; } = CoreType("Microsoft.ML.VersionInfo");
    public static Type ModelLoadContext { get; } = CoreType("Microsoft.ML.ModelLoadContext");
    public static Type SignatureLoadModel { get; } = CoreType("Microsoft.ML.SignatureLoadModel");
    public static Type LoadableClassAttribute { get; } = CoreType("Microsoft.ML.LoadableClassAttribute");

    private static readonly FieldInfo SaveWriter = Field(typeof(ModelSaveContext), "Writer");
    private static readonly MethodInfo SaveCheckAtModel = Method(typeof(ModelSaveContext), "CheckAtModel");
    private static readonly MethodInfo SaveSetVersionInfo = Method(typeof(ModelSaveContext), "SetVersionInfo", VersionInfo);
    private static readonly MethodInfo SaveBinary = Method(typeof(ModelSaveContext), "SaveBinaryStream", typeof(string), typeof(Action<BinaryWriter>));
    private static readonly PropertyInfo SaveInRepository = typeof(ModelSaveContext).GetProperty("InRepository", AnyInstance) ?? throw Missing("ModelSaveContext.InRepository");
    private static readonly FieldInfo LoadReader = Field(ModelLoadContext, "Reader");
    private static readonly MethodInfo LoadCheckAtModel = Method(ModelLoadContext, "CheckAtModel", VersionInfo);
    private static readonly MethodInfo LoadBinary = Method(ModelLoadContext, "TryLoadBinaryStream", typeof(string), typeof(Action<BinaryReader>));
    private static readonly PropertyInfo LoadInRepository = ModelLoadContext.GetProperty("InRepository", AnyInstance) ?? throw Missing("ModelLoadContext.InRepository");

    /// <summary>
    /// The constructor <c>LoadableClassAttribute(Type instType, Type loaderType, Type argType, Type sigType, string
    /// userName, params string[] loadNames)</c>.
    /// </summary>
    public static ConstructorInfo LoadableClassConstructor { get; } =
        LoadableClassAttribute.GetConstructor(AnyInstance, [typeof(Type), typeof(Type), typeof(Type), typeof(Type), typeof(string), typeof(string[])])
        ?? throw Missing("LoadableClassAttribute(Type, Type, Type, Type, string, string[])");

    /// <summary>A <c>VersionInfo</c> (boxed). <paramref name="modelSignature"/> must be 8 characters, loader signature at most 24.</summary>
    public static object NewVersionInfo(string modelSignature, uint version, string loaderAssemblyName, string loaderSignature)
    {
        var ctor = VersionInfo.GetConstructor(AnyInstance, [typeof(string), typeof(uint), typeof(uint), typeof(uint), typeof(string), typeof(string), typeof(string)])
                   ?? throw Missing("VersionInfo(string, uint, uint, uint, string, string, string)");
        return ctor.Invoke([modelSignature, version, version, version, loaderAssemblyName, loaderSignature, null]);
    }

    /// <summary>
    /// The <see cref="Microsoft.ML.Runtime.IHostEnvironment"/> behind an ML.NET catalog (<c>mlContext.Transforms</c>,
    /// <c>mlContext.MulticlassClassification.Trainers</c>...): ML.NET's own components get it through the internal
    /// <c>IInternalCatalog.Environment</c> / <c>CatalogInstantiatorBase.Environment</c>; null when not found.
    /// </summary>
    public static Microsoft.ML.Runtime.IHostEnvironment? EnvironmentOf(object catalog)
    {
        for (var type = catalog.GetType(); type is not null; type = type.BaseType)
        {
            var property = type.GetProperties(AnyInstance).FirstOrDefault(p =>
                (p.Name == "Environment" || p.Name.EndsWith(".Environment", StringComparison.Ordinal)) && typeof(Microsoft.ML.Runtime.IHostEnvironment).IsAssignableFrom(p.PropertyType));
            if (property?.GetValue(catalog) is Microsoft.ML.Runtime.IHostEnvironment env) return env;
        }
        return null;
    }

    /// <summary>
    /// The MLContext settings carried by its environment (the internal <c>IHostEnvironmentInternal</c>): <c>Seed</c>,
    /// <c>GpuDeviceId</c>, <c>FallbackToCpu</c>. Defaults (no seed, CPU, no fallback: ML.NET's) when not found.
    /// </summary>
    public static ContextSettings SettingsOf(Microsoft.ML.Runtime.IHostEnvironment? env)
    {
        if (env is null) return new ContextSettings(null, null, false);
        var settings = Core.GetType("Microsoft.ML.Runtime.IHostEnvironmentInternal");
        if (settings is null || !settings.IsInstanceOfType(env)) return new ContextSettings(null, null, false);
        object? Get(string name) => settings.GetProperty(name)?.GetValue(env);
        return new ContextSettings(Get("Seed") as int?, Get("GpuDeviceId") as int?, Get("FallbackToCpu") as bool? ?? false);
    }

    /// <summary>
    /// A <see cref="TrainerInfo"/> (its only constructor, <c>TrainerInfo(bool normalization, bool calibration, bool caching,
    /// bool supportValid, bool supportIncrementalTrain, bool supportTest)</c>, is internal).
    /// </summary>
    public static TrainerInfo NewTrainerInfo(bool normalization, bool calibration, bool caching, bool supportValid, bool supportIncrementalTrain, bool supportTest)
    {
        var ctor = typeof(TrainerInfo).GetConstructor(AnyInstance, [typeof(bool), typeof(bool), typeof(bool), typeof(bool), typeof(bool), typeof(bool)])
                   ?? throw Missing("TrainerInfo(bool, bool, bool, bool, bool, bool)");
        return (TrainerInfo)ctor.Invoke([normalization, calibration, caching, supportValid, supportIncrementalTrain, supportTest]);
    }

    private static readonly MethodInfo ShapeCreate = typeof(SchemaShape).GetMethod("Create", BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic, [typeof(DataViewSchema)])
                                                     ?? throw Missing("SchemaShape.Create(DataViewSchema)");

    /// <summary><c>SchemaShape.Create(schema)</c>: the only way to build a SchemaShape column outside ML.NET.</summary>
    public static SchemaShape ToSchemaShape(DataViewSchema schema) => (SchemaShape)ShapeCreate.Invoke(null, [schema])!;

    public static BinaryWriter Writer(ModelSaveContext ctx) => (BinaryWriter)SaveWriter.GetValue(ctx)!;
    public static bool InRepository(ModelSaveContext ctx) => (bool)SaveInRepository.GetValue(ctx)!;
    public static void CheckAtModel(ModelSaveContext ctx) => Invoke(SaveCheckAtModel, ctx);
    public static void SetVersionInfo(ModelSaveContext ctx, object versionInfo) => Invoke(SaveSetVersionInfo, ctx, versionInfo);
    public static void SaveBinaryStream(ModelSaveContext ctx, string name, Action<BinaryWriter> write) => Invoke(SaveBinary, ctx, name, write);

    public static BinaryReader Reader(object loadContext) => (BinaryReader)LoadReader.GetValue(loadContext)!;
    public static bool InRepository(object loadContext) => (bool)LoadInRepository.GetValue(loadContext)!;
    public static void CheckAtModel(object loadContext, object versionInfo) => Invoke(LoadCheckAtModel, loadContext, versionInfo);
    public static bool TryLoadBinaryStream(object loadContext, string name, Action<BinaryReader> read) => (bool)Invoke(LoadBinary, loadContext, name, read)!;

    // Unwrap TargetInvocationException so ML.NET's own format errors surface unchanged.
    private static object? Invoke(MethodInfo method, object target, params object[] args)
    {
        try
        {
            return method.Invoke(target, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }

    private static Type CoreType(string name) => Core.GetType(name) ?? throw Missing(name);

    private static FieldInfo Field(Type type, string name) => type.GetField(name, AnyInstance) ?? throw Missing($"{type.Name}.{name}");

    private static MethodInfo Method(Type type, string name, params Type[] parameters) =>
        type.GetMethod(name, AnyInstance, null, parameters, null) ?? throw Missing($"{type.Name}.{name}({string.Join(", ", parameters.Select(p => p.Name))})");

    private static NotSupportedException Missing(string member) =>
        new($"EfficientCnn.MLNet model persistence relies on ML.NET's internal '{member}', which {Core.GetName().Name} {Core.GetName().Version} " +
            $"does not have. Use the Microsoft.ML version this package was built against ({BuiltAgainst}).");

    /// <summary>The Microsoft.ML version EfficientCnn.MLNet is built and tested against.</summary>
    public const string BuiltAgainst = "6.0.x";
}

/// <summary>An MLContext's seed and GPU settings (<c>new MLContext(seed)</c>, <c>GpuDeviceId</c>, <c>FallbackToCpu</c>).</summary>
internal readonly record struct ContextSettings(int? Seed, int? GpuDeviceId, bool FallbackToCpu);
