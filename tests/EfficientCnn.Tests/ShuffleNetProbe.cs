using EfficientCnn.Backbones;
using EfficientCnn.Backbones.Architectures;
using NUnit.Framework;
using static TorchSharp.torch;
namespace EfficientCnn.Tests;
public sealed class ShuffleNetProbe
{
    static void Run(Backbone model, double lr = 3e-3)
    {
        random.manual_seed(0);
        var (x, y) = LearningCheck.StripeBatch(16, 32);
        model.train();
        var opt = optim.AdamW(model.parameters(), lr: lr, weight_decay: 0);
        var sb = new System.Text.StringBuilder();
        for (int step = 0; step < 30; step++)
        {
            using var scope = NewDisposeScope();
            opt.zero_grad();
            var loss = nn.functional.cross_entropy(model.call(x), y);
            loss.backward(); opt.step();
            sb.Append($"{loss.item<float>():F3} ");
        }
        model.eval();
        using (no_grad()) sb.Append($" | eval {nn.functional.cross_entropy(model.call(x), y).item<float>():F3}");
        TestContext.Out.WriteLine($"{model.GetName()} lr{lr}: {sb}");
    }
    [Test] public void V1() { random.manual_seed(1); Run(new ShuffleNetV1(3, 0.25, 2), 1e-2); random.manual_seed(2); Run(new ShuffleNetV1(3, 0.25, 2), 1e-2); }
    [Test] public void V2() { random.manual_seed(1); Run(new ShuffleNetV2([2, 2, 2], [16, 32, 64, 128, 256], 2), 1e-2); random.manual_seed(2); Run(new ShuffleNetV2([2, 2, 2], [16, 32, 64, 128, 256], 2), 1e-2); }
}
