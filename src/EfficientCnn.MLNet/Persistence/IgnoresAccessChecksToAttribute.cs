namespace System.Runtime.CompilerServices;

/// <summary>
/// Recognised by the .NET runtime by name (as used by DispatchProxy): an assembly carrying it may reference non-public
/// members of the named assembly. Applied only to the dynamic loader assembly emitted by
/// <see cref="EfficientCnn.MLNet.Persistence.ModelLoaderAssembly"/>; the C# compiler ignores it.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
internal sealed class IgnoresAccessChecksToAttribute(string assemblyName) : Attribute
{
    /// <summary>Simple name of the assembly whose non-public members may be accessed.</summary>
    public string AssemblyName { get; } = assemblyName;
}
