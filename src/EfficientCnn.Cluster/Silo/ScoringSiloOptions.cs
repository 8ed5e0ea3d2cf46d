namespace EfficientCnn.Cluster.Silo;

/// <summary>Settings of a scoring silo (one worker process).</summary>
public sealed record ScoringSiloOptions
{
    /// <summary>ONNX Runtime intra-op threads for scoring, or null for all cores.</summary>
    public int? Threads { get; init; }

    /// <summary>Silo-to-silo port; 0 picks a free one (several silos on one machine).</summary>
    public int SiloPort { get; init; }

    /// <summary>Port clients connect to; 0 picks a free one.</summary>
    public int GatewayPort { get; init; }

    /// <summary>
    /// The IP other machines reach this one at; null: the loopback address when Redis is on loopback (one machine),
    /// else the machine's first non-loopback IPv4 address.
    /// </summary>
    public string? AdvertisedAddress { get; init; }

    /// <summary>How long a stopping silo waits for the shard in hand before handing it back.</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a worker keeps trying to report a shard's result while the job's silo is being replaced.</summary>
    public TimeSpan ReportTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The name this worker goes by in progress and job state.</summary>
    public string WorkerName { get; init; } = $"{Environment.MachineName}:{Environment.ProcessId}";

    /// <summary>Throws <see cref="ArgumentException"/> naming the option when a value is impossible.</summary>
    public ScoringSiloOptions Validate()
    {
        if (Threads is < 1) throw new ArgumentException($"--threads must be at least 1, got {Threads}.", "threads");
        if (SiloPort is < 0 or > 65535) throw new ArgumentException($"--port must be 0 to 65535, got {SiloPort}.", "port");
        if (GatewayPort is < 0 or > 65535) throw new ArgumentException($"--gateway-port must be 0 to 65535, got {GatewayPort}.", "gateway-port");
        if (AdvertisedAddress is not null && !System.Net.IPAddress.TryParse(AdvertisedAddress, out _))
            throw new ArgumentException($"--advertise '{AdvertisedAddress}' is not an IP address.", "advertise");
        return this;
    }
}
