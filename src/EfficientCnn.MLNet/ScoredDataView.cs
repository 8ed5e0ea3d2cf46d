using EfficientCnn.Backbones.Imaging;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientCnn.MLNet;

/// <summary>
/// The output of <see cref="OnnxImageTransformer.Transform"/>: the input columns plus the scores (and label). A cursor
/// walks the input twice in step: one cursor passes the input columns through row by row, a second one reads the image
/// column ahead, <see cref="OnnxImageTransformer.BatchSize"/> rows at a time, so a batch is decoded in parallel and run
/// through the network at once. Nothing is computed when only input columns are requested.
/// </summary>
internal sealed class ScoredDataView : IDataView
{
    private readonly OnnxImageTransformer owner;
    private readonly IDataView input;
    private readonly int imageIndex;

    public ScoredDataView(OnnxImageTransformer owner, IDataView input)
    {
        this.owner = owner;
        this.input = input;
        imageIndex = owner.CheckImageColumn(input.Schema);
        Schema = owner.GetOutputSchema(input.Schema);
    }

    public DataViewSchema Schema { get; }

    // Both inner cursors must see the same row order, so this view never shuffles.
    public bool CanShuffle => false;

    // Skipped bad images make the count unknown until the data has been read.
    public long? GetRowCount() => owner.Options.OnBadImage == Backbones.Training.BadImagePolicy.Skip ? null : input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, columnsNeeded);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly ScoredDataView view;
        private readonly int inputCount;
        private readonly bool scoreActive;
        private readonly bool labelActive;
        private readonly DataViewRowCursor passthrough;
        private readonly DataViewRowCursor? images;
        private readonly Func<ImageInput>? readImage;
        private float[] buffer = [];
        private readonly int outputLength;
        private bool[] readable = [];
        private Task<OnnxImageTransformer.PreparedBatch?>? next;
        private int bufferCount;
        private int bufferIndex = -1;
        private long position = -1;

        public Cursor(ScoredDataView view, IEnumerable<DataViewSchema.Column> columnsNeeded)
        {
            this.view = view;
            var needed = columnsNeeded.ToList();
            var inputSchema = view.input.Schema;
            inputCount = inputSchema.Count;
            scoreActive = needed.Any(c => c.Index == inputCount);
            labelActive = needed.Any(c => c.Index == inputCount + 1);
            passthrough = view.input.GetRowCursor(needed.Where(c => c.Index < inputCount).Select(c => inputSchema[c.Index]));
            // Under the skip policy rows must be scored to know whether they stay, even if no output column is needed.
            if (scoreActive || labelActive || view.owner.Options.OnBadImage == Backbones.Training.BadImagePolicy.Skip)
            {
                var imageColumn = inputSchema[view.imageIndex];
                images = view.input.GetRowCursor([imageColumn]);
                readImage = view.owner.ImageReader(images, imageColumn);
                outputLength = view.owner.OutputLength;
            }
        }

        public override DataViewSchema Schema => view.Schema;

        public override long Position => position;

        public override long Batch => passthrough.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => passthrough.GetIdGetter();

        public override bool MoveNext()
        {
            while (passthrough.MoveNext())
            {
                if (images is not null && ++bufferIndex >= bufferCount) FillBuffer();
                if (images is null || readable[bufferIndex])
                {
                    position++;
                    return true;
                }
            }
            return false;
        }

        // Decoding of batch k+1 (on the thread pool) overlaps the network run of batch k. Only one task reads the image
        // cursor at a time: the next one starts after the previous finished.
        private void FillBuffer()
        {
            var batch = (next ?? Task.FromResult(Prepare())).GetAwaiter().GetResult()
                        ?? throw new InvalidOperationException("The input data view returned fewer rows on its second cursor; it must be deterministic.");
            next = Task.Run(Prepare);
            // Sized by the images actually read, not the batch size: predict --batch-size 100000000 on 55 images took 4.2 GB.
            if (buffer.Length < batch.Count * outputLength) buffer = new float[batch.Count * outputLength];
            view.owner.RunBatch(batch, buffer);
            readable = batch.Readable;
            bufferCount = batch.Count;
            bufferIndex = 0;
        }

        private OnnxImageTransformer.PreparedBatch? Prepare()
        {
            var batch = new List<ImageInput>();
            var rows = new List<long>();
            while (batch.Count < view.owner.BatchSize && images!.MoveNext())
            {
                rows.Add(images.Position);
                batch.Add(readImage!());
            }
            return batch.Count == 0 ? null : view.owner.PreprocessBatch(batch, rows, view.owner.Options.OnBadImage);
        }

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index < inputCount ? passthrough.IsColumnActive(passthrough.Schema[column.Index])
            : column.Index == inputCount ? scoreActive : labelActive;

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < inputCount) return passthrough.GetGetter<TValue>(passthrough.Schema[column.Index]);
            if (!IsColumnActive(column)) throw new InvalidOperationException($"Column '{column.Name}' is not active in this cursor.");
            return column.Index == inputCount
                ? Cast<TValue, VBuffer<float>>(column, (ref VBuffer<float> value) => Copy(buffer.AsSpan(bufferIndex * outputLength, outputLength), ref value))
                : LabelGetter<TValue>(view.owner, column, () => buffer.AsSpan(bufferIndex * outputLength, outputLength).ToArray());
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                // A prefetch may still be reading the image cursor: let it finish (its errors no longer matter).
                try { next?.Wait(); }
                catch (AggregateException) { }
                passthrough.Dispose();
                images?.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    internal static void Copy(ReadOnlySpan<float> source, ref VBuffer<float> value)
    {
        var editor = VBufferEditor.Create(ref value, source.Length);
        source.CopyTo(editor.Values);
        value = editor.Commit();
    }

    /// <summary>The predicted label getter: the class name (text) or its 1-based key.</summary>
    internal static ValueGetter<TValue> LabelGetter<TValue>(OnnxImageTransformer owner, DataViewSchema.Column column, Func<float[]> scores) =>
        owner.Options.PredictedLabelKind == PredictedLabelKind.Key
            ? Cast<TValue, uint>(column, (ref uint value) => value = (uint)owner.ArgMax(scores()) + 1)
            : Cast<TValue, ReadOnlyMemory<char>>(column, (ref ReadOnlyMemory<char> value) => value = (owner.Label(scores()) ?? "").AsMemory());

    internal static ValueGetter<TValue> Cast<TValue, TActual>(DataViewSchema.Column column, ValueGetter<TActual> getter) =>
        getter as ValueGetter<TValue>
        ?? throw new InvalidOperationException($"Column '{column.Name}' holds {typeof(TActual).Name}, not {typeof(TValue).Name}.");
}

/// <summary>Row-by-row mapping used by prediction engines: one image per call, scored as a batch of one.</summary>
internal sealed class RowMapper : IRowToRowMapper
{
    private readonly OnnxImageTransformer owner;
    private readonly int imageIndex;

    public RowMapper(OnnxImageTransformer owner, DataViewSchema inputSchema)
    {
        this.owner = owner;
        InputSchema = inputSchema;
        imageIndex = owner.CheckImageColumn(inputSchema);
        OutputSchema = owner.GetOutputSchema(inputSchema);
    }

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        var list = dependingColumns.ToList();
        var result = list.Where(c => c.Index < InputSchema.Count).Select(c => InputSchema[c.Index]).ToList();
        if (list.Any(c => c.Index >= InputSchema.Count) && result.All(c => c.Index != imageIndex)) result.Add(InputSchema[imageIndex]);
        return result;
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
        new MappedRow(this, input, activeColumns.Select(c => c.Index).ToHashSet());

    private sealed class MappedRow : DataViewRow
    {
        private readonly RowMapper mapper;
        private readonly DataViewRow input;
        private readonly HashSet<int> active;
        private readonly Func<ImageInput>? readImage;
        private readonly float[] scores = [];
        private long scoredPosition = -1;

        public MappedRow(RowMapper mapper, DataViewRow input, HashSet<int> active)
        {
            this.mapper = mapper;
            this.input = input;
            this.active = active;
            if (active.Any(i => i >= mapper.InputSchema.Count))
            {
                readImage = mapper.owner.ImageReader(input, mapper.InputSchema[mapper.imageIndex]);
                scores = new float[mapper.owner.OutputLength];
            }
        }

        public override DataViewSchema Schema => mapper.OutputSchema;

        public override long Position => input.Position;

        public override long Batch => input.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index < mapper.InputSchema.Count ? input.IsColumnActive(input.Schema[column.Index]) : active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            int n = mapper.InputSchema.Count;
            if (column.Index < n) return input.GetGetter<TValue>(input.Schema[column.Index]);
            if (readImage is null) throw new InvalidOperationException($"Column '{column.Name}' is not active in this row.");
            return column.Index == n
                ? ScoredDataView.Cast<TValue, VBuffer<float>>(column, (ref VBuffer<float> value) => ScoredDataView.Copy(Scores(), ref value))
                : ScoredDataView.LabelGetter<TValue>(mapper.owner, column, Scores);
        }

        // The score and label getters share one network run per row position.
        private float[] Scores()
        {
            if (scoredPosition != input.Position)
            {
                mapper.owner.ScoreBatch([readImage!()], [input.Position], scores, Backbones.Training.BadImagePolicy.Throw);
                scoredPosition = input.Position;
            }
            return scores;
        }
    }
}
