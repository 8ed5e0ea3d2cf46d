namespace EfficientCnn.Cli;

/// <summary>The process exit codes of every <c>efficientcnn</c> command (README, "Exit codes").</summary>
public static class ExitCodes
{
    /// <summary>The command did what was asked.</summary>
    public const int Success = 0;

    /// <summary>Bad input or option: the message names the file, row, column or option.</summary>
    public const int UserError = 1;

    /// <summary><c>check-onnx</c>: ONNX Runtime and TorchSharp disagree beyond the tolerance.</summary>
    public const int CheckFailed = 2;

    /// <summary>A bug or an environment failure: one line on the console, the full trace in a file.</summary>
    public const int InternalError = 3;
}
