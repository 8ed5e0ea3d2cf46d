using System.ComponentModel;
using EfficientCnn.Cluster;
using EfficientCnn.Cluster.Silo;
using Microsoft.Extensions.Hosting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace EfficientCnn.Cli.Commands;

/// <summary><c>efficientcnn silo</c>: a worker process of the scoring cluster (see docs/scale-out.md).</summary>
public sealed class SiloCommand : Command<SiloCommand.Settings>
{
    /// <summary>Options of the silo command.</summary>
    public sealed class Settings : CommandSettings
    {
        /// <summary>Cluster to join.</summary>
        [CommandOption("--cluster <REDIS>")]
        [Description("The cluster's Redis: redis://HOST:PORT (membership and job state).")]
        public string? Cluster { get; init; }

        /// <summary>Scoring threads.</summary>
        [CommandOption("--threads <N>")]
        [Description("ONNX Runtime threads for scoring (default: all cores).")]
        public int? Threads { get; init; }

        /// <summary>Silo port.</summary>
        [CommandOption("--port <PORT>")]
        [Description("Silo-to-silo port (default: a free one; fix it in containers, e.g. 11111).")]
        public int Port { get; init; }

        /// <summary>Gateway port.</summary>
        [CommandOption("--gateway-port <PORT>")]
        [Description("Port `predict --cluster` clients connect to (default: a free one; fix it in containers, e.g. 30000).")]
        public int GatewayPort { get; init; }

        /// <summary>Advertised address.</summary>
        [CommandOption("--advertise <IP>")]
        [Description("IP address other machines reach this one at (default: loopback when Redis is on loopback, else the first non-loopback IPv4; in Kubernetes, the pod IP).")]
        public string? Advertise { get; init; }

        /// <inheritdoc />
        public override ValidationResult Validate() =>
            string.IsNullOrWhiteSpace(Cluster) ? ValidationResult.Error("--cluster is required (redis://HOST:PORT).") : ValidationResult.Success();
    }

    /// <inheritdoc />
    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken) =>
        OnnxCommandHelpers.Guard(false, () =>
        {
            var cluster = ClusterAddress.Parse(settings.Cluster!);
            var options = new ScoringSiloOptions
            {
                Threads = settings.Threads, SiloPort = settings.Port, GatewayPort = settings.GatewayPort, AdvertisedAddress = settings.Advertise,
            }.Validate();
            using var host = ScoringSilo.Build(cluster, options);
            Console.Out.WriteLine($"Silo {options.WorkerName} joining {cluster} (Ctrl-C or SIGTERM stops it gracefully) ...");
            try
            {
                host.RunAsync(cancellationToken).GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is not (OperationCanceledException or OutOfMemoryException))
            {
                // Orleans and StackExchange.Redis throw many kinds here (Redis down, port taken, bad address).
                throw new InvalidOperationException($"Silo {options.WorkerName} could not run in {cluster}: {e.GetBaseException().Message}", e);
            }
            Console.Out.WriteLine($"Silo {options.WorkerName} left {cluster}");
            return 0;
        });
}
