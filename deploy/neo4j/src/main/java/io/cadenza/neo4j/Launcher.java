package io.cadenza.neo4j;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.neo4j.configuration.Config;
import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.configuration.ssl.ClientAuth;
import org.neo4j.configuration.ssl.SslPolicyConfig;
import org.neo4j.configuration.ssl.SslPolicyScope;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.io.ByteUnit;
import org.neo4j.io.fs.DefaultFileSystemAbstraction;
import org.neo4j.kernel.impl.security.User;
import org.neo4j.logging.Level;
import org.neo4j.logging.NullLogProvider;
import org.neo4j.logging.log4j.Log4jLogProvider;
import org.neo4j.memory.EmptyMemoryTracker;
import org.neo4j.server.security.SecureHasher;
import org.neo4j.server.security.SystemGraphCredential;
import org.neo4j.server.security.auth.CommunitySecurityModule;
import org.neo4j.server.security.auth.FileUserRepository;

/**
 * Runs an embedded Neo4j 5.26 Community DBMS with a Bolt connector on 127.0.0.1.
 *
 * <pre>
 * CADENZA_NEO4J_PASSWORD=PW java -jar target/launcher.jar --home DIR --bolt-port N [--no-auth]
 *      [--page-cache 128m] [--tx-total-max 256m] [--tx-max 128m] [--config neo4j.conf]
 *      [--tls-cert server.crt --tls-key server.key]
 * </pre>
 *
 * The password of user neo4j comes from the environment only: a command line is readable by
 * every local user (ps, /proc/PID/cmdline), a process's environment only by its owner.
 *
 * Prints {@code NEO4J READY bolt://127.0.0.1:PORT} on stdout once Bolt accepts connections;
 * everything else (Neo4j user log, errors) goes to stderr. SIGTERM/SIGINT shut it down cleanly.
 *
 * With --tls-cert and --tls-key (PEM; the key PKCS#8 and unencrypted) Bolt is TLS only
 * (server.bolt.tls_level=REQUIRED, ssl policy "bolt" without client certificates); without them
 * Bolt is plaintext only.
 */
public final class Launcher {
    private static final String USER = "neo4j";
    static final String PASSWORD_ENV = "CADENZA_NEO4J_PASSWORD";

    private Launcher() {}

    public static void main(String[] args) throws Exception {
        Path home = null;
        int port = 7687;
        boolean noAuth = false;
        String pageCache = "128m";
        String txTotalMax = "256m";
        String txMax = "128m";
        Path extraConfig = null;
        Path tlsCert = null;
        Path tlsKey = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--home" -> home = Path.of(need(args, ++i, a)).toAbsolutePath().normalize();
                case "--bolt-port" -> port = Integer.parseInt(need(args, ++i, a));
                case "--password" -> die("--password is not accepted (it would show in ps): set " + PASSWORD_ENV);
                case "--no-auth" -> noAuth = true;
                case "--page-cache" -> pageCache = need(args, ++i, a);
                case "--tx-total-max" -> txTotalMax = need(args, ++i, a);
                case "--tx-max" -> txMax = need(args, ++i, a);
                case "--config" -> extraConfig = Path.of(need(args, ++i, a));
                case "--tls-cert" -> tlsCert = Path.of(need(args, ++i, a)).toAbsolutePath().normalize();
                case "--tls-key" -> tlsKey = Path.of(need(args, ++i, a)).toAbsolutePath().normalize();
                case "-h", "--help" -> {
                    usage();
                    return;
                }
                // Only echo option-like arguments: a stray positional one may be a password.
                default -> die(a.startsWith("-") ? "unknown argument: " + a : "unexpected positional argument");
            }
        }
        if (home == null) die("--home is required");
        if ((tlsCert == null) != (tlsKey == null)) die("--tls-cert and --tls-key go together");
        for (Path file : new Path[] {tlsCert, tlsKey}) {
            if (file != null && !Files.isReadable(file)) die("cannot read " + file);
        }
        // With --no-auth an exported password is ignored rather than refused.
        String password = noAuth ? null : System.getenv(PASSWORD_ENV);
        if (!noAuth && (password == null || password.isEmpty())) {
            die(PASSWORD_ENV + " is unset or empty: set it to the password of user " + USER + " (or pass --no-auth)");
        }

        Files.createDirectories(home);
        Path data = home.resolve("data");
        Path logs = home.resolve("logs");
        Path txLogs = data.resolve("transactions");
        Path systemDbDir = data.resolve("databases").resolve("system");
        boolean firstStart = !Files.exists(systemDbDir);

        if (!noAuth && firstStart) {
            writeInitialPassword(home, data, password);
        }

        Log4jLogProvider userLog = new Log4jLogProvider(System.err, Level.INFO);
        DatabaseManagementServiceBuilder builder = new DatabaseManagementServiceBuilder(home)
                .setUserLogProvider(userLog);
        if (extraConfig != null) builder.loadPropertiesFromFile(extraConfig);
        builder
                // layout: everything under --home
                .setConfig(GraphDatabaseSettings.data_directory, data)
                .setConfig(GraphDatabaseSettings.logs_directory, logs)
                .setConfig(GraphDatabaseSettings.transaction_logs_root_path, txLogs)
                // Bolt only, loopback only; plaintext unless --tls-cert/--tls-key (below)
                .setConfig(GraphDatabaseSettings.default_listen_address, new SocketAddress("127.0.0.1"))
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(GraphDatabaseSettings.routing_enabled, false)
                // Netty's default 5 s "quiet period" per event-loop group makes shutdown take ~12 s.
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_timeout, Duration.ofSeconds(5))
                // auth
                .setConfig(GraphDatabaseSettings.auth_enabled, !noAuth)
                .setConfig(GraphDatabaseSettings.auth_minimum_password_length, 1)
                // no outbound calls / usage reporting
                .setConfig(GraphDatabaseSettings.udc_enabled, false)
                .setConfig(GraphDatabaseInternalSettings.udc_network_enabled, false)
                .setConfig(BoltConnector.server_bolt_telemetry_enabled, false)
                // keep memory small
                .setConfig(GraphDatabaseSettings.pagecache_memory, bytes(pageCache))
                .setConfig(GraphDatabaseSettings.memory_transaction_global_max_size, bytes(txTotalMax))
                .setConfig(GraphDatabaseSettings.memory_transaction_max_size, bytes(txMax))
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "100M size")
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false);

        if (tlsCert != null) {
            // The policy's trusted/ and revoked/ directories (client certificates, unused with
            // client_auth NONE) must exist; they live under HOME, not beside the given files.
            Path certificates = home.resolve("certificates").resolve("bolt");
            Files.createDirectories(certificates.resolve("trusted"));
            Files.createDirectories(certificates.resolve("revoked"));
            SslPolicyConfig bolt = SslPolicyConfig.forScope(SslPolicyScope.BOLT);
            builder.setConfig(bolt.enabled, true)
                    .setConfig(bolt.base_directory, certificates)
                    .setConfig(bolt.public_certificate, tlsCert)
                    .setConfig(bolt.private_key, tlsKey)
                    .setConfig(bolt.client_auth, ClientAuth.NONE)
                    .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.REQUIRED);
        }

        long t0 = System.nanoTime();
        DatabaseManagementService dbms = builder.build();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("neo4j launcher: shutting down");
            try {
                dbms.shutdown();
            } catch (Throwable t) {
                t.printStackTrace();
            } finally {
                userLog.close();
                System.err.println("neo4j launcher: stopped");
                stopped.countDown();
            }
        }, "neo4j-shutdown"));

        GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
        if (!db.isAvailable(Duration.ofMinutes(5).toMillis())) die("default database did not become available");

        if (!noAuth && !firstStart) {
            // Initial password only applies on first start; on later starts make the stored
            // password match the given one (no-op if it already does).
            GraphDatabaseService system = dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
            try {
                system.executeTransactionally(
                        "ALTER USER " + USER + " SET PASSWORD $pw CHANGE NOT REQUIRED", Map.of("pw", password));
                System.err.println("neo4j launcher: password of user '" + USER + "' updated to match " + PASSWORD_ENV);
            } catch (RuntimeException e) {
                if (!String.valueOf(e.getMessage()).contains("cannot be the same")) throw e;
            }
        }

        waitForPort(port, Duration.ofMinutes(2));
        System.err.printf("neo4j launcher: started in %d ms%n", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
        System.out.println("NEO4J READY bolt://127.0.0.1:" + port);
        System.out.flush();
        stopped.await();
    }

    /** Same as `neo4j-admin dbms set-initial-password PW`: writes data/dbms/auth.ini before first start. */
    private static void writeInitialPassword(Path home, Path data, String password) throws Exception {
        Config cfg = Config.newBuilder()
                .set(GraphDatabaseSettings.neo4j_home, home)
                .set(GraphDatabaseSettings.data_directory, data)
                .build();
        Path file = CommunitySecurityModule.getInitialUserRepositoryFile(cfg);
        try (DefaultFileSystemAbstraction fs = new DefaultFileSystemAbstraction()) {
            fs.mkdirs(file.getParent());
            if (fs.fileExists(file)) fs.deleteFile(file);
            FileUserRepository repo =
                    new FileUserRepository(fs, file, NullLogProvider.getInstance(), EmptyMemoryTracker.INSTANCE);
            repo.start();
            repo.create(new User(
                    USER,
                    null,
                    SystemGraphCredential.createCredentialForPassword(
                            password.getBytes(StandardCharsets.UTF_8), new SecureHasher()),
                    false,
                    false));
            repo.shutdown();
        }
    }

    private static void waitForPort(int port, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
                return;
            } catch (IOException e) {
                if (System.nanoTime() > deadline) die("bolt port " + port + " not accepting connections");
                Thread.sleep(100);
            }
        }
    }

    private static long bytes(String s) {
        s = s.trim().toLowerCase();
        long mult = 1;
        char c = s.charAt(s.length() - 1);
        if (c == 'k') mult = ByteUnit.kibiBytes(1);
        else if (c == 'm') mult = ByteUnit.mebiBytes(1);
        else if (c == 'g') mult = ByteUnit.gibiBytes(1);
        if (mult != 1) s = s.substring(0, s.length() - 1);
        return Long.parseLong(s) * mult;
    }

    private static String need(String[] args, int i, String opt) {
        if (i >= args.length) die(opt + " needs a value");
        return args[i];
    }

    private static void usage() {
        System.err.println("usage: " + PASSWORD_ENV + "=PW Launcher --home DIR --bolt-port N [--no-auth]"
                + " [--page-cache 128m] [--tx-total-max 256m] [--tx-max 128m] [--config neo4j.conf]"
                + " [--tls-cert server.crt --tls-key server.key]");
    }

    private static void die(String msg) {
        System.err.println("neo4j launcher: " + msg);
        usage();
        System.exit(2);
    }
}
