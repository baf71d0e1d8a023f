// Kiln runs on Linux: it drives gcc, bubblewrap, flock and Unix file modes.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
