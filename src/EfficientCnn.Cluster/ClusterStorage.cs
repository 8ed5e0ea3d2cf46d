namespace EfficientCnn.Cluster;

/// <summary>Names shared by silos and clients.</summary>
public static class ClusterStorage
{
    /// <summary>The grain storage (Redis) holding job state, models and the job registry.</summary>
    public const string Name = "efficientcnn-jobs";
}
