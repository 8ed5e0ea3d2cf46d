using TorchSharp;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Blocks;

/// <summary>Views of existing modules as one stage (<see cref="Backbone.Stages"/>).</summary>
public static class StageGroup
{
    /// <summary>
    /// Groups existing modules into one stage for <see cref="Backbone.Stages"/> (children named "0", "1", …).
    /// A fresh TorchSharp ModuleList registers its items lazily and reports no parameters, so it cannot serve here.
    /// The group is not registered in the model, so the model's state-dict names are unchanged.
    /// </summary>
    public static nn.Module Of(IEnumerable<nn.Module> modules) => new ModuleGroup(modules);

    private sealed class ModuleGroup : nn.Module
    {
        public ModuleGroup(IEnumerable<nn.Module> modules) : base("Stage")
        {
            int index = 0;
            foreach (var module in modules) register_module((index++).ToString(), module);
        }
    }
}
