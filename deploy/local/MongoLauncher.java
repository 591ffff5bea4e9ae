// Local MongoDB-wire server for Helhet: mongo-java-server with its H2 (MVStore) file backend.
// Run as a single source file (Java 17, no build step):
//   java -Xmx512m -cp '<libs>/*' deploy/local/MongoLauncher.java <port> <file.mv>
// Production uses real MongoDB; this only serves local runs, tests and benchmarks.

import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;

import java.util.List;
import java.util.concurrent.CountDownLatch;

public final class MongoLauncher {

    // The server's built-in versions top out at wire 8 (MongoDB 4.2); pymongo >= 4.14 refuses
    // anything below 9, so it announces the oldest MongoDB that production supports.
    private static final class Mongo60 implements MongoVersion {
        @Override
        public List<Integer> getVersionArray() {
            return List.of(6, 0, 0);
        }

        @Override
        public int getWireVersion() {
            return 17;
        }
    }

    private MongoLauncher() {
    }

    public static void main(String[] args) throws InterruptedException {
        if (args.length != 2) {
            System.err.println("usage: MongoLauncher <port> <file.mv>");
            System.exit(2);
        }
        int port = Integer.parseInt(args[0]);
        String file = args[1];

        H2Backend backend = new H2Backend(file);
        backend.version(new Mongo60());
        MongoServer server = new MongoServer(backend);
        // Loopback only: the local server has no authentication.
        server.bind("127.0.0.1", port);
        System.err.println("mongo-java-server listening on 127.0.0.1:" + port + " (file " + file + ")");

        CountDownLatch stopped = new CountDownLatch(1);
        // SIGTERM/SIGINT run shutdown hooks: shutdownNow() drops clients, stops Netty and closes the
        // backend, which closes the MVStore so the file is consistent for the next start.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.shutdownNow();
            System.err.println("mongo-java-server stopped");
            stopped.countDown();
        }, "mongo-shutdown"));
        stopped.await();
    }
}
