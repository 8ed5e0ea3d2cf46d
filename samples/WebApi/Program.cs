// Web API: a business app that loads a model zip once and classifies uploaded images from many concurrent requests.
//   dotnet run --project samples/WebApi -c Release -- --model model.zip [--urls http://127.0.0.1:5000]
//   curl --data-binary @cat.png -H "Content-Type: application/octet-stream" http://127.0.0.1:5000/predict
//   curl -F image=@cat.png http://127.0.0.1:5000/predict
// The zip is any model saved by `efficientcnn train` or mlContext.Model.Save (input column ImagePath); it loads with
// plain mlContext.Model.Load. The transformer is thread-safe; PredictionEngine is not, so requests borrow one from a pool.
using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;
using Microsoft.ML.Data;

var builder = WebApplication.CreateBuilder(args);
string zip = builder.Configuration["model"] ?? throw new ArgumentException("usage: WebApi --model model.zip [--urls URL]");
var ml = new MLContext();
ITransformer model = ml.Model.Load(zip, out _); // once, for the life of the app
Console.WriteLine($"loaded model {Path.GetFullPath(zip)}");
var engines = new DefaultObjectPool<PredictionEngine<UploadedImage, Prediction>>(new EnginePolicy(ml, model), Environment.ProcessorCount * 8);

var app = builder.Build();
app.MapGet("/health", () => Results.Ok("ok"));
app.MapPost("/predict", async (HttpRequest request, CancellationToken cancel) =>
{
    // Either the raw body (application/octet-stream, image/png, ...) or the first file of a multipart form.
    using var buffer = new MemoryStream();
    if (request.HasFormContentType)
    {
        var form = await request.ReadFormAsync(cancel);
        if (form.Files.Count == 0) return Results.BadRequest(new { error = "the form holds no file" });
        await using var file = form.Files[0].OpenReadStream();
        await file.CopyToAsync(buffer, cancel);
    }
    else
        await request.Body.CopyToAsync(buffer, cancel);
    if (buffer.Length == 0) return Results.BadRequest(new { error = "no image in the request" });
    return Classify(buffer.ToArray());
});
app.Run();

IResult Classify(byte[] image)
{
    var engine = engines.Get();
    try
    {
        var prediction = engine.Predict(new UploadedImage { ImagePath = image });
        return Results.Ok(new { label = prediction.PredictedLabel, score = prediction.Score.Max() });
    }
    catch (InvalidDataException e)
    {
        return Results.BadRequest(new { error = e.Message }); // not an image, or a corrupt one
    }
    finally
    {
        engines.Return(engine);
    }
}

/// <summary>An uploaded image: encoded bytes (PNG, JPEG, ...) in the model's image column.</summary>
public sealed class UploadedImage
{
    /// <summary>The encoded image; the model's input column is named ImagePath and also accepts bytes.</summary>
    [ColumnName("ImagePath"), VectorType]
    public byte[] ImagePath { get; set; } = [];
}

/// <summary>What the model answers.</summary>
public sealed class Prediction
{
    /// <summary>The most probable class.</summary>
    public string PredictedLabel { get; set; } = "";

    /// <summary>Class probabilities.</summary>
    public float[] Score { get; set; } = [];
}

/// <summary>Creates prediction engines over the one loaded transformer (each engine serves one request at a time).</summary>
internal sealed class EnginePolicy(MLContext ml, ITransformer model) : PooledObjectPolicy<PredictionEngine<UploadedImage, Prediction>>
{
    public override PredictionEngine<UploadedImage, Prediction> Create() => ml.Model.CreatePredictionEngine<UploadedImage, Prediction>(model);

    public override bool Return(PredictionEngine<UploadedImage, Prediction> engine) => true;
}
