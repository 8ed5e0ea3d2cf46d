using System.Net;

namespace EfficientCnn.Cluster;

/// <summary>
/// Where a scoring cluster keeps its membership and job state: a Redis server, written <c>redis://HOST:PORT</c>
/// (port 6379 when left out). Silos and clients that name the same address form one cluster.
/// </summary>
/// <param name="Host">Redis host name or IP.</param>
/// <param name="Port">Redis port.</param>
public sealed record ClusterAddress(string Host, int Port)
{
    /// <summary>Orleans cluster and service ids: fixed, so every efficientcnn process on one Redis meets the others.</summary>
    internal const string ClusterId = "efficientcnn", ServiceId = "efficientcnn-scoring";

    /// <summary>Parses <c>redis://HOST[:PORT]</c>; errors name <paramref name="option"/>.</summary>
    /// <exception cref="ArgumentException">Not a redis:// address, or a bad port.</exception>
    public static ClusterAddress Parse(string value, string option = "cluster")
    {
        const string scheme = "redis://";
        string usage = $"--{option} '{value}' is not a cluster address; expected redis://HOST:PORT (the Redis server that holds the cluster's membership and job state).";
        if (string.IsNullOrWhiteSpace(value) || !value.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException(usage, option);
        string rest = value[scheme.Length..].TrimEnd('/');
        string host = rest;
        int port = 6379;
        int colon = rest.LastIndexOf(':');
        if (colon >= 0 && !rest.EndsWith(']'))
        {
            host = rest[..colon];
            if (!int.TryParse(rest[(colon + 1)..], out port) || port is < 1 or > 65535)
                throw new ArgumentException($"--{option} '{value}': the port must be a number from 1 to 65535.", option);
        }
        host = host.Trim('[', ']');
        if (host.Length == 0 || host.Contains('/') || host.Contains('@'))
            throw new ArgumentException(usage, option);
        return new ClusterAddress(host, port);
    }

    /// <summary>The StackExchange.Redis configuration string.</summary>
    public string RedisConfiguration => $"{(Host.Contains(':') ? $"[{Host}]" : Host)}:{Port}";

    /// <summary>True when Redis is on this machine's loopback (then silos advertise the loopback address too).</summary>
    public bool IsLoopback => Host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(Host, out var ip) && IPAddress.IsLoopback(ip));

    /// <inheritdoc />
    public override string ToString() => $"redis://{RedisConfiguration}";
}
