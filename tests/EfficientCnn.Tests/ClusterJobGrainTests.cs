using EfficientCnn.Cluster;
using EfficientCnn.Cluster.Jobs;
using NUnit.Framework;
using Orleans.Hosting;
using Orleans.TestingHost;

namespace EfficientCnn.Tests;

/// <summary>The job grain's lease rules on Orleans' in-process test cluster (memory grain storage).</summary>
[NonParallelizable]
public sealed class ClusterJobGrainTests
{
    private TestCluster cluster = null!;

    private sealed class Storage : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo) => silo.AddMemoryGrainStorage(ClusterStorage.Name);
    }

    [OneTimeSetUp]
    public async Task StartCluster()
    {
        var builder = new TestClusterBuilder(1);
        builder.AddSiloBuilderConfigurator<Storage>();
        cluster = builder.Build();
        await cluster.DeployAsync();
    }

    [OneTimeTearDown]
    public async Task StopCluster()
    {
        await cluster.StopAllSilosAsync();
        await cluster.DisposeAsync();
    }

    private static JobSpec Spec(string id, int images = 10, int shardSize = 4, double leaseSeconds = 30, int maxAttempts = 2) => new()
    {
        JobId = id, WorkFolder = "/shared/" + id, ImageCount = images, ShardSize = shardSize, ModelSha256 = "ab",
        LeaseTimeout = TimeSpan.FromSeconds(leaseSeconds), MaxAttempts = maxAttempts, BaseFolder = "/",
    };

    private IScoringJobGrain Job(string id) => cluster.GrainFactory.GetGrain<IScoringJobGrain>(id);

    [Test]
    public async Task ShardsAreLeasedOnceEachAndTheJobFinishesWhenAllAreDone()
    {
        var job = Job("once");
        var status = await job.StartAsync(Spec("once"), [1, 2, 3]);
        Assert.That(status.Spec.ShardCount, Is.EqualTo(3), "10 images in shards of 4: 4 + 4 + 2");
        Assert.That(await cluster.GrainFactory.GetGrain<IJobRegistryGrain>(0).ActiveAsync(), Does.Contain("once"));
        var leases = new List<ShardLease>();
        for (int i = 0; i < 3; i++) leases.Add((await job.LeaseAsync($"w{i}"))!);
        Assert.That(leases.Select(l => l.Shard), Is.EqualTo(new[] { 0, 1, 2 }));
        Assert.That(leases.Select(l => l.Count), Is.EqualTo(new[] { 4, 4, 2 }));
        Assert.That(await job.LeaseAsync("w3"), Is.Null, "every shard is leased: nothing to hand out");
        foreach (var lease in leases)
            Assert.That(await job.CompleteAsync(lease.Shard, lease.LeaseId, "w", new ShardResult { Scored = lease.Count, Seconds = 1 }), Is.True);
        Assert.That(await job.CompleteAsync(0, leases[0].LeaseId, "w", new ShardResult { Scored = 4 }), Is.False, "a duplicate completion is refused");
        status = (await job.GetStatusAsync())!;
        Assert.That(status.Finished, Is.True);
        Assert.That(status.ImagesDone, Is.EqualTo(10));
        Assert.That(status.Workers["w"].Images, Is.EqualTo(10), "the duplicate did not count twice");
        Assert.That(await cluster.GrainFactory.GetGrain<IJobRegistryGrain>(0).ActiveAsync(), Does.Not.Contain("once"), "a finished job leaves the registry");
        Assert.That(await job.GetModelAsync(), Is.EqualTo(new byte[] { 1, 2, 3 }), "the model travels with the job");
    }

    [Test]
    public async Task AnExpiredLeaseIsGivenToAnotherWorkerAndTheLateResultIsStillAcceptedOnce()
    {
        var job = Job("expiry");
        await job.StartAsync(Spec("expiry", images: 4, leaseSeconds: 1, maxAttempts: 3), []);
        var dead = (await job.LeaseAsync("dead"))!;
        Assert.That(await job.LeaseAsync("alive"), Is.Null, "the only shard is leased");
        await Task.Delay(1300);
        var again = (await job.LeaseAsync("alive"))!;
        Assert.That(again, Is.Not.Null, "after the lease timeout the shard is leased again");
        Assert.That(again.Shard, Is.EqualTo(dead.Shard));
        Assert.That(again.LeaseId, Is.Not.EqualTo(dead.LeaseId));
        Assert.That(await job.RenewAsync(dead.Shard, dead.LeaseId), Is.False, "the old lease cannot be renewed");
        Assert.That(await job.CompleteAsync(again.Shard, again.LeaseId, "alive", new ShardResult { Scored = 4 }), Is.True);
        Assert.That(await job.CompleteAsync(dead.Shard, dead.LeaseId, "dead", new ShardResult { Scored = 4 }), Is.False);
        var status = (await job.GetStatusAsync())!;
        Assert.That(status.ExpiredLeases, Is.EqualTo(1));
        Assert.That(status.Workers.Keys, Is.EqualTo(new[] { "alive" }));
    }

    [Test]
    public async Task AShardThatKeepsFailingIsReportedNotRetriedForeverAndRetriedWhenTheJobStartsAgain()
    {
        var job = Job("failing");
        var spec = Spec("failing", images: 4, maxAttempts: 2);
        await job.StartAsync(spec, []);
        for (int attempt = 0; attempt < 2; attempt++)
        {
            var lease = (await job.LeaseAsync("w"))!;
            Assert.That(lease, Is.Not.Null, $"attempt {attempt + 1} gets the shard");
            await job.FailAsync(lease.Shard, lease.LeaseId, "w", "disk on fire");
        }
        Assert.That(await job.LeaseAsync("w"), Is.Null, "after MaxAttempts failures the shard is not handed out again");
        var status = (await job.GetStatusAsync())!;
        Assert.That(status.Finished, Is.True, "a job whose shards are all done or failed is finished");
        Assert.That(status.Failed, Has.Count.EqualTo(1));
        Assert.That(status.Failed[0].Attempts, Is.EqualTo(2));
        Assert.That(status.Failed[0].Error, Does.Contain("disk on fire"));
        Assert.That(new EfficientCnn.Cluster.Client.ClusterJobFailedException(status).Message, Does.Contain("disk on fire").And.Contain("images 1-4"));

        status = await job.StartAsync(spec, []);
        Assert.That(status.Failed, Is.Empty, "starting the same job again gives failed shards fresh attempts");
        Assert.That(await job.LeaseAsync("w"), Is.Not.Null);
    }

    [Test]
    public async Task AReleasedShardIsLeasedAgainWithoutCountingAnAttempt()
    {
        var job = Job("release");
        await job.StartAsync(Spec("release", images: 4, maxAttempts: 1), []);
        var lease = (await job.LeaseAsync("stopping"))!;
        await job.ReleaseAsync(lease.Shard, lease.LeaseId);
        Assert.That(await job.LeaseAsync("other"), Is.Not.Null, "with MaxAttempts 1 a counted attempt would have failed the shard");
    }

    [Test]
    public async Task StartingAJobIdWithOtherWorkIsRefused()
    {
        var job = Job("clash");
        await job.StartAsync(Spec("clash", images: 4), []);
        var other = Spec("clash", images: 5);
        Assert.That(async () => await job.StartAsync(other, []), Throws.InstanceOf<InvalidOperationException>().With.Message.Contains("other settings"));
    }

    [TestCase("redis://10.0.0.5:7000", "10.0.0.5", 7000)]
    [TestCase("redis://cache", "cache", 6379)]
    [TestCase("REDIS://[::1]:6380/", "::1", 6380)]
    public void ClusterAddressesParse(string text, string host, int port)
    {
        var address = ClusterAddress.Parse(text);
        Assert.That((address.Host, address.Port), Is.EqualTo((host, port)));
    }

    [TestCase("localhost:6379", "expected redis://HOST:PORT")]
    [TestCase("redis://host:99999", "port must be a number")]
    [TestCase("redis://host:x", "port must be a number")]
    [TestCase("redis://", "expected redis://HOST:PORT")]
    public void BadClusterAddressesAreNamed(string text, string message) =>
        Assert.That(() => ClusterAddress.Parse(text), Throws.ArgumentException.With.Message.Contains(message).And.Message.Contains(text));
}
