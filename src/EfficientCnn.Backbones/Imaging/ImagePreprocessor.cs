using System.Runtime.ExceptionServices;
using SkiaSharp;

namespace EfficientCnn.Backbones.Imaging;

/// <summary>
/// An image to preprocess: a file path, encoded bytes, or decoded RGBA pixels, with a name used in error messages.
/// </summary>
public readonly struct ImageInput
{
    private ImageInput(string? path, ReadOnlyMemory<byte> bytes, string name, int pixelWidth = 0, int pixelHeight = 0)
    {
        Path = path;
        Bytes = bytes;
        Name = name;
        PixelWidth = pixelWidth;
        PixelHeight = pixelHeight;
    }

    /// <summary>The file to read, or null when the input is <see cref="Bytes"/>.</summary>
    public string? Path { get; }

    /// <summary>The encoded image (PNG, JPEG, ...), or RGBA pixels when <see cref="IsPixels"/>; empty when <see cref="Path"/> is set.</summary>
    public ReadOnlyMemory<byte> Bytes { get; }

    /// <summary>Width of the decoded pixels in <see cref="Bytes"/>; 0 for encoded images and files.</summary>
    public int PixelWidth { get; }

    /// <summary>Height of the decoded pixels in <see cref="Bytes"/>; 0 for encoded images and files.</summary>
    public int PixelHeight { get; }

    /// <summary>Whether <see cref="Bytes"/> holds already decoded 8-bit RGBA pixels (row-major, 4 bytes per pixel).</summary>
    public bool IsPixels => PixelWidth > 0;

    /// <summary>What error messages call this image: the path, or the name given with the bytes.</summary>
    public string Name { get; }

    /// <summary>An image stored in a file.</summary>
    public static ImageInput FromFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new ImageInput(path, default, path);
    }

    /// <summary>An encoded image held in memory; <paramref name="name"/> identifies it in error messages.</summary>
    public static ImageInput FromBytes(ReadOnlyMemory<byte> encoded, string? name = null) =>
        new(null, encoded, string.IsNullOrEmpty(name) ? "<in-memory image>" : name);

    /// <summary>
    /// Decoded 8-bit RGBA pixels, row-major (an ML.NET <c>MLImage</c>, an IDX digit); alpha is ignored.
    /// </summary>
    /// <exception cref="ArgumentException">The buffer does not hold width x height x 4 bytes.</exception>
    public static ImageInput FromPixels(ReadOnlyMemory<byte> rgba, int width, int height, string? name = null)
    {
        string label = string.IsNullOrEmpty(name) ? "<in-memory pixels>" : name;
        if (width < 1 || height < 1 || (long)width * height * 4 != rgba.Length)
            throw new ArgumentException($"Image '{label}': {rgba.Length} bytes do not hold {width}x{height} RGBA pixels.", nameof(rgba));
        return new ImageInput(null, rgba, label, width, height);
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>
/// The one image path shared by training, evaluation, featurizing and scoring: decode (PNG, JPEG, BMP, GIF, WebP; grey,
/// RGB, RGBA and palette images all become RGB, alpha is dropped like PIL's convert("RGB")), crop and resize with
/// SkiaSharp's high-quality filter, then normalize into a float CHW array. The evaluation path is deterministic, so
/// scoring reproduces the evaluation done during training bit for bit. Instances are immutable and thread-safe.
/// </summary>
/// <remarks>
/// SkiaSharp is the library Microsoft.ML.ImageAnalytics' MLImage uses; the version is pinned to the one ImageAnalytics
/// 6 resolves to (3.119.x) so the process loads a single native Skia. The resampling reproduces SkiaSharp 2.88's
/// within one grey level, so models trained before the move score the same. EXIF orientation is not applied (as in torchvision).
/// </remarks>
public sealed class ImagePreprocessor
{
    private readonly float[][] lut; // lut[rgbChannel][byte] = (byte / 255 - mean) / std
    private readonly int[] sourceChannel; // output channel -> R/G/B index

    /// <summary>Creates a preprocessor for <paramref name="spec"/> (validated).</summary>
    public ImagePreprocessor(PreprocessingSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Spec = spec.Validate();
        lut = new float[3][];
        for (int c = 0; c < 3; c++)
        {
            lut[c] = new float[256];
            for (int v = 0; v < 256; v++) lut[c][v] = Normalize(v / 255f, c);
        }
        sourceChannel = spec.ChannelOrder == ChannelOrder.Rgb ? [0, 1, 2] : [2, 1, 0];
    }

    /// <summary>The configuration applied.</summary>
    public PreprocessingSpec Spec { get; }

    /// <summary>Floats per image: 3 x Resolution x Resolution.</summary>
    public int TensorLength => Spec.TensorLength;

    /// <summary>Evaluation preprocessing of one image into a new [3, R, R] array.</summary>
    public float[] Preprocess(ImageInput input)
    {
        var result = new float[TensorLength];
        Preprocess(input, result);
        return result;
    }

    /// <summary>Evaluation preprocessing of one image file into a new [3, R, R] array.</summary>
    public float[] Preprocess(string path) => Preprocess(ImageInput.FromFile(path));

    /// <summary>Evaluation preprocessing of one encoded image into a new [3, R, R] array.</summary>
    public float[] Preprocess(byte[] encoded, string? name = null) => Preprocess(ImageInput.FromBytes(encoded, name));

    /// <summary>Evaluation preprocessing (deterministic) of one image into <paramref name="destination"/> ([3, R, R]).</summary>
    public void Preprocess(ImageInput input, Span<float> destination)
    {
        CheckDestination(destination);
        var pixels = RenderEvaluationCrop(input);
        int r = Spec.Resolution;
        int plane = r * r;
        for (int oc = 0; oc < 3; oc++)
        {
            int c = sourceChannel[oc];
            var table = lut[c];
            var outPlane = destination.Slice(oc * plane, plane);
            for (int i = 0; i < plane; i++) outPlane[i] = table[pixels[i * 4 + c]];
        }
    }

    /// <summary>
    /// The evaluation crop and resize of <see cref="Preprocess(ImageInput, Span{float})"/> without the normalization:
    /// 8-bit planes in the spec's channel order (CHW, 3 x R x R bytes). Normalizing these bytes gives exactly what
    /// <see cref="Preprocess(ImageInput, Span{float})"/> returns, so a corpus decoded once with this method (see
    /// <c>PackedImages</c>) trains on the same pixels as one decoded on the fly.
    /// </summary>
    public void RenderBytes(ImageInput input, Span<byte> destination)
    {
        if (destination.Length < TensorLength)
            throw new ArgumentException($"Destination holds {destination.Length} bytes; one image needs {TensorLength}.", nameof(destination));
        var pixels = RenderEvaluationCrop(input);
        int plane = Spec.Resolution * Spec.Resolution;
        for (int oc = 0; oc < 3; oc++)
        {
            int c = sourceChannel[oc];
            var outPlane = destination.Slice(oc * plane, plane);
            for (int i = 0; i < plane; i++) outPlane[i] = pixels[i * 4 + c];
        }
    }

    /// <summary>
    /// Training preprocessing: random resized crop, flip and colour jitter drawn from <paramref name="rng"/>, then the
    /// same normalization as evaluation. The same generator state gives the same output.
    /// </summary>
    public void PreprocessForTraining(ImageInput input, Span<float> destination, ImageAugmentation augmentation, Random rng)
    {
        ArgumentNullException.ThrowIfNull(augmentation);
        ArgumentNullException.ThrowIfNull(rng);
        CheckDestination(destination);
        var image = DecodedImage.Decode(input);
        var draw = augmentation.Validate().Sample(image.Width, image.Height, rng);
        int r = Spec.Resolution, plane = r * r;
        var pixels = image.Render(draw.CropX, draw.CropY, draw.CropWidth, draw.CropHeight, draw.Flip, r);
        var rgb = new float[plane * 3];
        for (int i = 0; i < plane; i++)
        {
            rgb[i * 3] = pixels[i * 4] / 255f;
            rgb[i * 3 + 1] = pixels[i * 4 + 1] / 255f;
            rgb[i * 3 + 2] = pixels[i * 4 + 2] / 255f;
        }
        ImageAugmentation.ApplyColorJitter(rgb, draw);
        for (int oc = 0; oc < 3; oc++)
        {
            int c = sourceChannel[oc];
            var outPlane = destination.Slice(oc * plane, plane);
            for (int i = 0; i < plane; i++) outPlane[i] = Normalize(rgb[i * 3 + c], c);
        }
    }

    /// <summary>
    /// Evaluation preprocessing of many images in parallel into <paramref name="destination"/>, image i at offset
    /// i x <see cref="TensorLength"/> (an [N, 3, R, R] batch). The first failure is rethrown as is (it names the image).
    /// </summary>
    public void PreprocessBatch(IReadOnlyList<ImageInput> inputs, Memory<float> destination, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        int len = TensorLength;
        if (destination.Length < inputs.Count * len)
            throw new ArgumentException($"Destination holds {destination.Length} floats; {inputs.Count} images need {inputs.Count * len}.", nameof(destination));
        var options = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism };
        try
        {
            Parallel.For(0, inputs.Count, options, i => Preprocess(inputs[i], destination.Span.Slice(i * len, len)));
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            throw;
        }
    }

    /// <summary>
    /// Runs <paramref name="preprocess"/> for images 0 to <paramref name="count"/> - 1 in parallel and returns, per image,
    /// the error that made it unusable (missing, unreadable, corrupt or unsupported file), or null. Any other exception
    /// propagates. The one place that decides what counts as a bad image, for training batches and scoring alike.
    /// </summary>
    public static Exception?[] ForEachImage(int count, Action<int> preprocess, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(preprocess);
        var errors = new Exception?[count];
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism }, i =>
        {
            try
            {
                preprocess(i);
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException)
            {
                errors[i] = e;
            }
        });
        return errors;
    }

    /// <summary>Decodes and applies the evaluation crop and resize: R x R opaque RGBA.</summary>
    private byte[] RenderEvaluationCrop(ImageInput input)
    {
        var image = DecodedImage.Decode(input);
        float sx = 0, sy = 0, sw = image.Width, sh = image.Height;
        if (Spec.ResizeMode == ResizeMode.ShorterSideCenterCrop)
        {
            // Resize-shorter-side-to R/f then centre-crop R == centre crop of side f*min(w,h) scaled to R.
            float side = Spec.CropFraction * Math.Min(image.Width, image.Height);
            sx = (image.Width - side) / 2f;
            sy = (image.Height - side) / 2f;
            sw = sh = side;
        }
        return image.Render(sx, sy, sw, sh, flip: false, Spec.Resolution);
    }

    private float Normalize(float value01, int rgbChannel) => (value01 - Spec.Mean[rgbChannel]) / Spec.Std[rgbChannel];

    private void CheckDestination(Span<float> destination)
    {
        if (destination.Length < TensorLength)
            throw new ArgumentException($"Destination holds {destination.Length} floats; one image needs {TensorLength}.", nameof(destination));
    }

    /// <summary>A decoded image as opaque 8-bit RGBA.</summary>
    private sealed class DecodedImage
    {
        private DecodedImage(byte[] rgba, int width, int height)
        {
            Rgba = rgba;
            Width = width;
            Height = height;
        }

        public byte[] Rgba { get; }
        public int Width { get; }
        public int Height { get; }

        public static DecodedImage Decode(ImageInput input)
        {
            if (input.IsPixels)
            {
                var copy = input.Bytes.ToArray();
                for (int i = 3; i < copy.Length; i += 4) copy[i] = 255;
                return new DecodedImage(copy, input.PixelWidth, input.PixelHeight);
            }
            byte[]? fileBytes = null;
            if (input.Path is { } path)
            {
                if (!File.Exists(path))
                    throw new FileNotFoundException($"Image file '{path}' does not exist.", path);
                fileBytes = File.ReadAllBytes(path);
            }
            ReadOnlySpan<byte> encoded = fileBytes ?? input.Bytes.Span;
            if (encoded.IsEmpty)
                throw new InvalidDataException($"Cannot decode image '{input.Name}': it is empty.");

            using var data = SKData.CreateCopy(encoded);
            // The codec takes ownership of the stream (SkiaSharp revokes the stream's own handle).
            using var codec = SKCodec.Create(new SKMemoryStream(data), out var status);
            if (codec is null)
                throw new InvalidDataException($"Cannot decode image '{input.Name}': not a supported image format or corrupt ({status}).");
            int w = codec.Info.Width, h = codec.Info.Height;
            if (w < 1 || h < 1 || (long)w * h > 1L << 28)
                throw new InvalidDataException($"Cannot decode image '{input.Name}': unusable size {w}x{h}.");

            // Unpremultiplied RGBA keeps the colour of translucent pixels; alpha is then dropped (set opaque).
            var info = new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul);
            var rgba = GC.AllocateUninitializedArray<byte>(w * h * 4);
            SKCodecResult result;
            unsafe
            {
                fixed (byte* p = rgba) result = codec.GetPixels(info, (IntPtr)p);
            }
            if (result != SKCodecResult.Success)
                throw new InvalidDataException($"Cannot decode image '{input.Name}': {result} (truncated or corrupt data).");
            for (int i = 3; i < rgba.Length; i += 4) rgba[i] = 255;
            return new DecodedImage(rgba, w, h);
        }

        /// <summary>Resamples the source rectangle to size x size opaque RGBA, optionally mirrored.</summary>
        public byte[] Render(float sx, float sy, float sw, float sh, bool flip, int size)
        {
            var output = new byte[size * size * 4];
            unsafe
            {
                fixed (byte* src = Rgba)
                fixed (byte* dst = output)
                {
                    using var image = SKImage.FromPixels(new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Opaque), (IntPtr)src, Width * 4);
                    using var surface = SKSurface.Create(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Premul), (IntPtr)dst, size * 4);
                    var canvas = surface.Canvas;
                    if (flip)
                    {
                        canvas.Translate(size, 0);
                        canvas.Scale(-1, 1);
                    }
                    using var paint = new SKPaint { IsAntialias = false, BlendMode = SKBlendMode.Src };
                    // SkiaSharp 2.88's FilterQuality.High, spelled out for SkiaSharp 3 (ImagingTests.PreprocessingMatchesSkiaSharp288):
                    // Mitchell bicubic when enlarging in both directions, otherwise bilinear on the nearest mip level; and the
                    // source rectangle is a strict bound (no sampling of pixels outside it), which SkiaSharp 3's DrawImage no
                    // longer applies, hence the drawing from a subset image that covers the rectangle.
                    var sampling = size > sw && size > sh
                        ? new SKSamplingOptions(SKCubicResampler.Mitchell)
                        : new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Nearest);
                    int x0 = Math.Max(0, (int)MathF.Floor(sx)), y0 = Math.Max(0, (int)MathF.Floor(sy));
                    int x1 = Math.Min(Width, (int)MathF.Ceiling(sx + sw)), y1 = Math.Min(Height, (int)MathF.Ceiling(sy + sh));
                    using var subset = image.Subset(new SKRectI(x0, y0, x1, y1)) ?? throw new InvalidOperationException($"Crop {x0},{y0},{x1},{y1} outside the {Width}x{Height} image.");
                    canvas.DrawImage(subset, new SKRect(sx - x0, sy - y0, sx - x0 + sw, sy - y0 + sh), new SKRect(0, 0, size, size), sampling, paint);
                    canvas.Flush();
                }
            }
            return output;
        }
    }
}
