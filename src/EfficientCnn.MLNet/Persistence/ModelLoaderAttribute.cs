namespace EfficientCnn.MLNet.Persistence;

/// <summary>
/// Declares a transformer that ML.NET model zips hold and plain <c>mlContext.Model.Load</c> reads back: the build
/// (build/ModelLoaders) writes a loader class for every class carrying this attribute into
/// <see cref="ModelLoaderAssembly.AssemblyName"/>, which calls the class's
/// <c>static T LoadFromModelContext(IHostEnvironment env, object ctx)</c>.
/// </summary>
/// <remarks>The build reads the attribute from the source (it runs before this library compiles), so write it on the
/// line before the class with the signature as a string literal or a string constant of the same file.</remarks>
/// <param name="loaderSignature">The loader signature written into the model entry's header.</param>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class ModelLoaderAttribute(string loaderSignature) : Attribute
{
    /// <summary>The loader signature written into the model entry's header.</summary>
    public string LoaderSignature { get; } = loaderSignature;
}
