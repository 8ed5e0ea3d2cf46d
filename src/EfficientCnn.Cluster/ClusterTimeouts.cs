using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;

namespace EfficientCnn.Cluster;

/// <summary>Timeouts shared by silos and clients.</summary>
internal static class ClusterTimeouts
{
    /// <summary>
    /// Grain calls give up after 15 s rather than Orleans' 30: calls here are short, and a call to a grain whose silo
    /// was just killed should fail soon and be retried once the grain lives elsewhere.
    /// </summary>
    public static readonly TimeSpan Response = TimeSpan.FromSeconds(15);

    public static void ConfigureSilo(IServiceCollection services) =>
        services.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = Response);

    public static void ConfigureClient(IServiceCollection services) =>
        services.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = Response);
}
