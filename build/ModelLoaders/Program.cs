using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;

// Writes EfficientCnn.MLNet.ModelLoaders.dll: the assembly every EfficientCnn model zip names as its loader, so that
// ML.NET's own mlContext.Model.Load finds our transformers in any process (docs/mlnet-model-persistence.md).
//
// ML.NET (6.0) loads a model entry by Assembly.Load(header's loader assembly name), ComponentCatalog.RegisterAssembly
// (which reads that assembly's [assembly: LoadableClass] attributes) and a call of the class's static
// Create(IHostEnvironment, ModelLoadContext). LoadableClassAttribute, SignatureLoadModel and ModelLoadContext are
// internal to Microsoft.ML.Core, so no C# compiler will write that assembly; this program writes its metadata directly
// (System.Reflection.Metadata), referring to everything by name, so it runs before EfficientCnn.MLNet is compiled and
// EfficientCnn.MLNet can reference the result (which puts it in every consumer's deps.json). The assembly carries
//   [assembly: IgnoresAccessChecksTo("Microsoft.ML.Core")], [assembly: IgnoresAccessChecksTo("EfficientCnn.MLNet")]
// and, for every component that declares [ModelLoader(signature)] (EfficientCnn.MLNet.Persistence.ModelLoaderAttribute),
//   [assembly: LoadableClass(typeof(T), typeof(TLoader), null, typeof(SignatureLoadModel), signature, signature)]
//   public static class TLoader
//   { public static T Create(IHostEnvironment env, ModelLoadContext ctx) => T.LoadFromModelContext(env, ctx); }
// (the runtime honours IgnoresAccessChecksTo for the internal references). The declarations are read from the
// library's source, since this runs before it compiles. Usage: ModelLoaderGen <output.dll> <version> <source folder>.

if (args.Length != 3 || !Version.TryParse(args[1], out var version) || !Directory.Exists(args[2]))
{
    Console.Error.WriteLine("usage: ModelLoaderGen <output.dll> <assembly version> <EfficientCnn.MLNet source folder>");
    return 2;
}
var components = DeclaredComponents(args[2]);
if (components.Count == 0)
{
    Console.Error.WriteLine($"no [ModelLoader] declaration under {args[2]}");
    return 2;
}
string output = Path.GetFullPath(args[0]);
Directory.CreateDirectory(Path.GetDirectoryName(output)!);
const string Name = "EfficientCnn.MLNet.ModelLoaders";
const string MlNetCore = "Microsoft.ML.Core";
const string Library = "EfficientCnn.MLNet";
const string MlNetCoreQualified = "Microsoft.ML.Core, Version=1.0.0.0, Culture=neutral, PublicKeyToken=cc7b13ffcd2ddd51";

var md = new MetadataBuilder();
var il = new BlobBuilder();
var methodBodies = new MethodBodyStreamEncoder(il);

md.AddModule(0, md.GetOrAddString(Name + ".dll"), md.GetOrAddGuid(new Guid("5b0c8f2e-6c1d-4f5e-9a4b-0e1c2d3f4a5b")), default, default);
var assembly = md.AddAssembly(md.GetOrAddString(Name), version, default, default, default, AssemblyHashAlgorithm.Sha1);

AssemblyReferenceHandle Ref(string name, Version v, byte[]? token) =>
    md.AddAssemblyReference(md.GetOrAddString(name), v, default, token is null ? default : md.GetOrAddBlob(token), default, default);
var runtime = Ref("System.Runtime", new Version(10, 0, 0, 0), [0xb0, 0x3f, 0x5f, 0x7f, 0x11, 0xd5, 0x0a, 0x3a]);
var mlCore = Ref(MlNetCore, new Version(1, 0, 0, 0), [0xcc, 0x7b, 0x13, 0xff, 0xcd, 0x2d, 0xdd, 0x51]);
var library = Ref(Library, new Version(0, 0, 0, 0), null);

TypeReferenceHandle TypeRef(AssemblyReferenceHandle scope, string ns, string name) =>
    md.AddTypeReference(scope, md.GetOrAddString(ns), md.GetOrAddString(name));
var objectType = TypeRef(runtime, "System", "Object");
var attributeType = TypeRef(runtime, "System", "Attribute");
var typeType = TypeRef(runtime, "System", "Type");
var hostEnvironment = TypeRef(mlCore, "Microsoft.ML.Runtime", "IHostEnvironment");
var modelLoadContext = TypeRef(mlCore, "Microsoft.ML", "ModelLoadContext");
var loadableClass = TypeRef(mlCore, "Microsoft.ML", "LoadableClassAttribute");
var transformers = components.Select(c => TypeRef(library, c.Namespace, c.Name)).ToList();

BlobHandle Signature(Action<BlobEncoder> write)
{
    var b = new BlobBuilder();
    write(new BlobEncoder(b));
    return md.GetOrAddBlob(b);
}

// Attribute..ctor()
var attributeCtor = md.AddMemberReference(attributeType, md.GetOrAddString(".ctor"),
    Signature(e => e.MethodSignature(isInstanceMethod: true).Parameters(0, r => r.Void(), p => { })));
// LoadableClassAttribute..ctor(Type instType, Type loaderType, Type argType, Type sigType, string userName, params string[] loadNames)
var loadableClassCtor = md.AddMemberReference(loadableClass, md.GetOrAddString(".ctor"),
    Signature(e => e.MethodSignature(isInstanceMethod: true).Parameters(6, r => r.Void(), p =>
    {
        for (int i = 0; i < 4; i++) p.AddParameter().Type().Type(typeType, isValueType: false);
        p.AddParameter().Type().String();
        p.AddParameter().Type().SZArray().String();
    })));
// static T T.LoadFromModelContext(IHostEnvironment env, object ctx)
var loadMethods = transformers.Select(transformer => md.AddMemberReference(transformer, md.GetOrAddString("LoadFromModelContext"),
    Signature(e => e.MethodSignature().Parameters(2, r => r.Type().Type(transformer, false), p =>
    {
        p.AddParameter().Type().Type(hostEnvironment, false);
        p.AddParameter().Type().Object();
    })))).ToList();

// <Module>
md.AddTypeDefinition(default, default, md.GetOrAddString("<Module>"), default, MetadataTokens.FieldDefinitionHandle(1), MetadataTokens.MethodDefinitionHandle(1));

// internal sealed class System.Runtime.CompilerServices.IgnoresAccessChecksToAttribute : Attribute { public .ctor(string) : base() {} }
var ctorBody = new InstructionEncoder(new BlobBuilder());
ctorBody.LoadArgument(0);
ctorBody.Call(attributeCtor);
ctorBody.OpCode(ILOpCode.Ret);
int ctorOffset = methodBodies.AddMethodBody(ctorBody);
var ignoresCtorDef = md.AddMethodDefinition(
    MethodAttributes.Public | MethodAttributes.HideBySig | MethodAttributes.SpecialName | MethodAttributes.RTSpecialName,
    MethodImplAttributes.IL, md.GetOrAddString(".ctor"),
    Signature(e => e.MethodSignature(isInstanceMethod: true).Parameters(1, r => r.Void(), p => p.AddParameter().Type().String())),
    ctorOffset, MetadataTokens.ParameterHandle(1));
md.AddParameter(ParameterAttributes.None, md.GetOrAddString("assemblyName"), 1);
md.AddTypeDefinition(TypeAttributes.NotPublic | TypeAttributes.Sealed | TypeAttributes.Class | TypeAttributes.BeforeFieldInit,
    md.GetOrAddString("System.Runtime.CompilerServices"), md.GetOrAddString("IgnoresAccessChecksToAttribute"), attributeType,
    MetadataTokens.FieldDefinitionHandle(1), ignoresCtorDef);

// public static class EfficientCnn.MLNet.ModelLoaders.TLoader { public static T Create(IHostEnvironment, ModelLoadContext) }
for (int i = 0; i < components.Count; i++)
{
    var createBody = new InstructionEncoder(new BlobBuilder());
    createBody.LoadArgument(0);
    createBody.LoadArgument(1);
    createBody.Call(loadMethods[i]);
    createBody.OpCode(ILOpCode.Ret);
    int createOffset = methodBodies.AddMethodBody(createBody);
    var transformer = transformers[i];
    var createDef = md.AddMethodDefinition(MethodAttributes.Public | MethodAttributes.Static | MethodAttributes.HideBySig, MethodImplAttributes.IL,
        md.GetOrAddString("Create"),
        Signature(e => e.MethodSignature().Parameters(2, r => r.Type().Type(transformer, false), p =>
        {
            p.AddParameter().Type().Type(hostEnvironment, false);
            p.AddParameter().Type().Type(modelLoadContext, false);
        })),
        createOffset, MetadataTokens.ParameterHandle(2 + 2 * i));
    md.AddParameter(ParameterAttributes.None, md.GetOrAddString("env"), 1);
    md.AddParameter(ParameterAttributes.None, md.GetOrAddString("ctx"), 2);
    md.AddTypeDefinition(TypeAttributes.Public | TypeAttributes.Abstract | TypeAttributes.Sealed | TypeAttributes.Class | TypeAttributes.BeforeFieldInit,
        md.GetOrAddString("EfficientCnn.MLNet.ModelLoaders"), md.GetOrAddString(components[i].Name + "Loader"), objectType,
        MetadataTokens.FieldDefinitionHandle(1), createDef);
}

// Assembly attributes.
BlobHandle AttributeValue(Action<FixedArgumentsEncoder> fixedArgs)
{
    var b = new BlobBuilder();
    new BlobEncoder(b).CustomAttributeSignature(fixedArgs, _ => { });
    return md.GetOrAddBlob(b);
}
foreach (var target in new[] { MlNetCore, Library })
    md.AddCustomAttribute(assembly, ignoresCtorDef, AttributeValue(f => f.AddArgument().Scalar().Constant(target)));
foreach (var c in components)
    md.AddCustomAttribute(assembly, loadableClassCtor, AttributeValue(f =>
    {
        f.AddArgument().Scalar().SystemType($"{c.Namespace}.{c.Name}, {Library}");
        f.AddArgument().Scalar().SystemType($"EfficientCnn.MLNet.ModelLoaders.{c.Name}Loader");
        f.AddArgument().Scalar().SystemType(null);
        f.AddArgument().Scalar().SystemType($"Microsoft.ML.SignatureLoadModel, {MlNetCoreQualified}");
        f.AddArgument().Scalar().Constant(c.Signature);
        var names = f.AddArgument().Vector().Count(1);
        names.AddLiteral().Scalar().Constant(c.Signature);
    }));

var pe = new ManagedPEBuilder(new PEHeaderBuilder(imageCharacteristics: Characteristics.Dll | Characteristics.ExecutableImage),
    new MetadataRootBuilder(md), il, flags: CorFlags.ILOnly, deterministicIdProvider: content => new BlobContentId(new Guid("5b0c8f2e-6c1d-4f5e-9a4b-0e1c2d3f4a5b"), 0x5eed0001));
var image = new BlobBuilder();
pe.Serialize(image);
using (var file = File.Create(output)) image.WriteContentTo(file);
Console.WriteLine($"wrote {output}");
return 0;

// Every class of the library's source preceded by [ModelLoader(X)], X a string literal or a string constant of the same
// file, in path order (the output does not depend on the file system's enumeration order).
static List<(string Namespace, string Name, string Signature)> DeclaredComponents(string sourceFolder)
{
    var found = new List<(string, string, string)>();
    var files = Directory.EnumerateFiles(sourceFolder, "*.cs", SearchOption.AllDirectories)
        .Where(f => !f.Split(Path.DirectorySeparatorChar).Any(part => part is "obj" or "bin"))
        .OrderBy(f => f, StringComparer.Ordinal);
    foreach (var file in files)
    {
        string text = File.ReadAllText(file);
        foreach (Match m in Regex.Matches(text, @"^\[ModelLoader\((?:""(?<literal>[^""]+)""|(?<constant>\w+))\)\]\s*(?:\w+\s+)*?class\s+(?<name>\w+)", RegexOptions.Multiline))
        {
            string ns = Regex.Match(text, @"^namespace\s+([\w.]+)\s*;", RegexOptions.Multiline) is { Success: true } n
                ? n.Groups[1].Value : throw new InvalidOperationException($"{file}: no file-scoped namespace");
            string constant = m.Groups["constant"].Value;
            string signature = m.Groups["literal"].Success ? m.Groups["literal"].Value
                : Regex.Match(text, @"const\s+string\s+" + constant + @"\s*=\s*""([^""]+)""") is { Success: true } c
                    ? c.Groups[1].Value : throw new InvalidOperationException($"{file}: constant {constant} not found");
            found.Add((ns, m.Groups["name"].Value, signature));
        }
    }
    return found;
}
