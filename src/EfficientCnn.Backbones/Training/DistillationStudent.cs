using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientCnn.Backbones.Training;

/// <summary>
/// A student backbone plus a linear projection of its pooled features to the teacher's width (state-dict names
/// backbone.*, projection.*), which the distillers train and then drop.
/// </summary>
internal sealed class DistillationStudent : nn.Module<Tensor, Tensor>
{
    private readonly Backbone backbone;
    private readonly Linear projection;

    /// <param name="backbone">The student.</param>
    /// <param name="teacherDim">The teacher's feature width.</param>
    /// <param name="identityWhenSameWidth">Start the projection as the identity when the widths agree (a student initialised from the teacher starts on target).</param>
    public DistillationStudent(Backbone backbone, int teacherDim, bool identityWhenSameWidth) : base("DistillationStudent")
    {
        this.backbone = backbone;
        projection = nn.Linear(backbone.FeatureDim, teacherDim);
        if (identityWhenSameWidth && backbone.FeatureDim == teacherDim)
        {
            using var _ = no_grad();
            projection.weight.copy_(eye(teacherDim));
            projection.bias!.zero_();
        }
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => projection.call(backbone.ForwardFeatures(input));
}
