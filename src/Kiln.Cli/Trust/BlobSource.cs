namespace Kiln.Cli.Trust;

/// <summary>The nodes <c>kiln challenge</c> fetches result contents from, in order, and the client it uses.</summary>
internal sealed record BlobSource(HttpClient Http, IReadOnlyList<Uri> Nodes);
