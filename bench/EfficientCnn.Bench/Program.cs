using EfficientCnn.Backbones.Runtime;
using EfficientCnn.Bench;

// The malloc and thread settings every TorchSharp user of the library should apply; ML.NET variants run under them too.
// A load-only app never touches libtorch, and drawing a plot does not need it.
if (args is not ["first-prediction-child" or "plot-transfer", ..]) TorchRuntime.Configure();
var parsed = BenchArgs.Parse(args);
try
{
    return parsed.Command switch
    {
        "featurize" => FeaturizeBench.Run(parsed),
        "featurize-child" => FeaturizeBench.Child(parsed),
        "score" => ScoreBench.Run(parsed),
        "score-child" => ScoreBench.Child(parsed),
        "first-prediction" => FirstPredictionBench.Run(parsed),
        "first-prediction-child" => FirstPredictionBench.Child(parsed),
        "finetune" => FinetuneBench.Run(parsed),
        "finetune-child" => FinetuneBench.Child(parsed),
        "accuracy" => AccuracyBench.Run(parsed),
        "ceiling" => CeilingBench.Run(parsed),
        "plot-transfer" => TransferPlot.Run(parsed),
        "search-study" => SearchStudyBench.Run(parsed),
        _ => Usage(),
    };
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

static int Usage()
{
    Console.Error.WriteLine("""
        usage: EfficientCnn.Bench <command> [options]
          featurize        --images DIR [--count 200] [--resolution 224] [--rounds 2]
          score            --images DIR [--count 200] [--rounds 2]
          first-prediction [--images DIR] [--runs 5]
          finetune         --images DIR [--count 128] [--device cpu|cuda|auto]
          ceiling          --images DIR [--count 100] [--runs 40] [--threads N]
          accuracy         --data DIR [--backbone NAME|FILE.onnx] [--output-tensor NAME] [--epochs 4] [--resolution R] [--methods mlnet,featurize,finetune]
                           [--scope all|head|last] [--results FILE.csv] [--seed 1] [--note TEXT] [--device cpu|cuda|auto]
          plot-transfer    --results FILE.csv --out FILE.png [--dataset NAME]
          search-study     --runs DIR,DIR,... (each STRATEGY-seedN from `efficientcnn search`) [--target-latency-ms 10] [--reward soft|hard] [--classes 5]
                           [--passes 2] [--timing-runs 20] [--out FILE.csv] [--reuse-timings FILE.csv] [--plot FILE.png]
                           [--top 3 --specs-out DIR]
        """);
    return 2;
}
