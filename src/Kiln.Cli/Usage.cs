namespace Kiln.Cli;

/// <summary>The text of <c>kiln --help</c>.</summary>
internal static class Usage
{
    public const string Version = "0.1.0";

    public const string Text = """
        kiln: shared C and C++ builds across machines that need not trust each other.

        Compile:
          kiln cc [COMPILER] ARGS...   compile through Kiln nodes (CC="kiln cc gcc"); falls back to a
                                       local compile whenever no node can do the job
          gcc, cc, g++, c++, clang     a symlink to kiln with one of these names acts as 'kiln cc NAME'
                                       (masquerade; the real compiler is found further along PATH)
          kiln masquerade DIR          create those symlinks in DIR; put DIR first on PATH
          kiln agent [--stop]          this user's agent, which holds TLS connections to nodes for
                                       kiln cc (started by kiln cc; 'kiln agent --help')

        Run a node:
          kiln serve [OPTIONS]         compile for others; 'kiln serve --help' lists the options
          kiln hosts [--browse]        list the hosts of KILN_HOSTS and, with +zeroconf or --browse,
                                       the Kiln nodes and distccds announced by DNS-SD
          kiln stats [--node H:P] [--json]
                                       cache hits, misses and size by front end (a node's and
                                       this machine's local cache)

        See:
          kiln status [--node H:P]     a node's slots, load, running jobs and accounting by user and node
          kiln monitor [--count N]     the same, redrawn every second (live terminal view)
          kiln explain [SOURCE...]     why recent compiles ran where they did (KILN_DIR/decisions.log)
          http://NODE:3633/            the dashboard; /api/accounting, /api/jobs, /metrics

        Security (docs/security.md):
          kiln token create --role read|write|execute|admin [--name N]
                                       a bearer token for this node (also: list, revoke ID,
                                       cert FINGERPRINT --role R to grant a client certificate)
          kiln cert                    this client's TLS certificate and its fingerprint

        Trust:
          kiln key new | show          this user's Ed25519 signing key
          kiln trust add | list | retire | revoke | remove
                                       the keys whose attestations count, grouped by owner
          kiln challenge [--node URL]  actions builders disagree on: signers on each side, what
                                       differs; exit status 1 when any is contested

        Environment:
          KILN_HOSTS      hosts to use, in DISTCC_HOSTS syntax: host[:port][/limit][,options] ...
                          localhost = compile here; host:3632 or ,distcc/,lzo/,cpp = a distccd;
                          default: $DISTCC_HOSTS, else the local node at 127.0.0.1:3635;
                          ,fp=SHA256HEX pins a node's TLS certificate (else KILN_DIR/known_hosts,
                          trust on first use); ,plain = no TLS (loopback benchmarks only)
          KILN_LOCAL_SOCKET  0 = always reach a node on this machine by TCP (and TLS); by default
                          its local socket is used once a loopback WELCOME named it
          KILN_AGENT      0 = never go through the agent (kiln agent --help); by default a TLS node
                          whose fingerprint is known is reached through it
          KILN_TOKEN      bearer token sent to Kiln nodes (kiln token create on the node)
          KILN_FALLBACK   0 = fail instead of compiling locally when no node can do the job
          KILN_BACKOFF_PERIOD  seconds a failed node is left alone (default 60; 0 = no backoff)
          KILN_DIR        client state and cache (default ~/.cache/kiln)
          KILN_CACHE_SIZE size cap of the local cache under KILN_DIR (default 5G; 0 = off)
          KILN_REMOTE_DIRECT  0 = do not ask the node for this user's manifests before
                          preprocessing (remote direct mode; on by default, docs/cache.md)
          KILN_REMOTE_PREPROCESS  0 = always preprocess here; by default a node whose manifest
                          names this compile's files preprocesses changed files itself
          KILN_JOB_AHEAD  0 = send each job whole after preprocessing; by default a node that takes
                          it gets the job first and starts its compiler while this one preprocesses
          KILN_DIGEST_CACHE  0 = hash every header at each lookup; by default their digests are
                          kept in KILN_DIR/file-digests by inode and times (ccache's inode cache)
          KILN_BASEDIR    paths under it are made relative, so checkouts share cache hits
          KILN_VERBOSE    1 = say on stderr where each compile ran and why
          KILN_USER       the name nodes account this user's jobs to (default: the login name)

        """;
}
