using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace EfficientCnn.Cluster.Silo;

/// <summary>
/// A scoring silo: an Orleans silo on the cluster's Redis (membership and grain storage) that hosts job grains and
/// runs one <see cref="ShardWorker"/>. The host stops gracefully on Ctrl-C and SIGTERM (the worker first, then the silo
/// leaves the cluster).
/// </summary>
public static class ScoringSilo
{
    /// <summary>Builds the silo's host; run it with <c>RunAsync</c>.</summary>
    public static IHost Build(ClusterAddress cluster, ScoringSiloOptions options)
    {
        options.Validate();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        ClusterLogging.Configure(builder.Logging);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownGrace + options.ReportTimeout);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        var address = Advertised(cluster, options.AdvertisedAddress);
        builder.UseOrleans(silo =>
        {
            silo.UseRedisClustering(cluster.RedisConfiguration);
            silo.AddRedisGrainStorage(ClusterStorage.Name, o => o.ConfigurationOptions = StackExchange.Redis.ConfigurationOptions.Parse(cluster.RedisConfiguration));
            silo.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (ClusterAddress.ClusterId, ClusterAddress.ServiceId));
            silo.ConfigureEndpoints(address, PortOrFree(options.SiloPort), PortOrFree(options.GatewayPort), listenOnAnyHostAddress: true);
            ClusterTimeouts.ConfigureSilo(silo.Services);
        });
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<ShardScorer>();
        // Registered after Orleans: hosted services stop in reverse order, so the worker stops while the silo still runs.
        builder.Services.AddHostedService<ShardWorker>();
        return builder.Build();
    }

    private static IPAddress Advertised(ClusterAddress cluster, string? configured)
    {
        if (configured is not null) return IPAddress.Parse(configured);
        if (cluster.IsLoopback) return IPAddress.Loopback;
        return NetworkInterface.GetAllNetworkInterfaces()
                   .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
                   .SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(a => a.Address)
                   .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
               ?? throw new InvalidOperationException("This machine has no non-loopback IPv4 address to advertise; give one with --advertise.");
    }

    private static int PortOrFree(int port)
    {
        if (port != 0) return port;
        using var probe = new TcpListener(IPAddress.Any, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
