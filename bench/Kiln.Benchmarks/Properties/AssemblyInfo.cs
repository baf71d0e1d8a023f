// Kiln runs on Linux only (libsodium, Unix file modes, bubblewrap).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
