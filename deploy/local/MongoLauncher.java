// Local MongoDB-wire server for Helhet: mongo-java-server with its H2 (MVStore) file backend.
// Run as a single source file (Java 17, no build step):
//   java -Xmx2g -cp '<libs>/*' deploy/local/MongoLauncher.java <port> <file.mv>
// Production uses real MongoDB; this only serves local runs, tests and benchmarks. It replaces H2's
// default data type, which cost most of the server's CPU under load (see BsonValues).

import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.KeyValue;
import de.bwaldvogel.mongo.backend.ValueComparator;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.h2.H2Collection;
import de.bwaldvogel.mongo.backend.h2.H2Database;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.wire.bson.BsonDecoder;
import de.bwaldvogel.mongo.wire.bson.BsonEncoder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.h2.mvstore.DataUtils;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;
import org.h2.mvstore.WriteBuffer;
import org.h2.mvstore.type.BasicDataType;
import org.h2.mvstore.type.ObjectDataType;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

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

    // The backend opens its databases from H2Backend's constructor, before a subclass could hold the store.
    static MVStore STORE;

    private MongoLauncher() {
    }

    /**
     * How the server's B-trees compare and store what they hold: document ids, index keys (KeyValue),
     * the ids an index points to, and the documents themselves. H2's default (ObjectDataType) uses Java
     * serialization for every one of them that is not a JDK type, and compares two such keys by
     * serialising both, on every step of every binary search; under a write load that was most of the
     * server's CPU. Here keys compare by MongoDB's value order and everything is stored as BSON, the
     * format it arrived in. Anything BSON cannot hold (nothing a client can send) keeps the default's
     * format behind its own marker byte.
     *
     * Keys that MongoDB's order calls equal fall back to the default's comparison, so exactly the keys
     * that were equal before are equal now. The order in the tree differs from the default's, and so
     * does the format: a file written without this type is not readable with it (config.py names the
     * file accordingly).
     */
    static final class BsonValues extends BasicDataType<Object> {
        private static final ValueComparator VALUES = ValueComparator.ascWithoutListHandling();
        private static final ObjectDataType JAVA_SERIALIZED = new ObjectDataType();
        private static final byte DOCUMENT = 0;
        private static final byte KEY = 1;
        private static final byte VALUE = 2;
        private static final byte JAVA = 3;
        // The common keys and ids, without a BSON document around them: a string id, and an index key
        // of one string (every _id index of string ids, every unique index on one text field).
        private static final byte STRING = 4;
        private static final byte KEY_OF_ONE_STRING = 5;
        // A document's position (InsertionOrderedCollection), in the collection and in its indexes.
        private static final byte LONG = 6;

        @Override
        public int compare(Object a, Object b) {
            if (a == b) {
                return 0;
            }
            int order = a instanceof KeyValue left && b instanceof KeyValue right
                ? compareKeyValues(left, right)
                : VALUES.compare(a, b);
            if (order != 0) {
                return order;
            }
            if (a instanceof KeyValue left && left.equals(b) && isPlain(left)) {
                return 0;
            }
            return JAVA_SERIALIZED.compare(a, b);
        }

        private static int compareKeyValues(KeyValue left, KeyValue right) {
            int shared = Math.min(left.size(), right.size());
            for (int i = 0; i < shared; i++) {
                int order = VALUES.compare(left.get(i), right.get(i));
                if (order != 0) {
                    return order;
                }
            }
            return Integer.compare(left.size(), right.size());
        }

        /** Values whose equality is exactly equality of their serialised form. */
        private static boolean isPlain(KeyValue key) {
            for (Object value : key) {
                if (!(value == null || value instanceof String || value instanceof Boolean
                    || value instanceof Integer || value instanceof Long || value instanceof java.util.UUID
                    || value instanceof java.time.Instant)) {
                    return false;
                }
            }
            return true;
        }

        @Override
        public int getMemory(Object value) {
            return 64 + estimate(value);
        }

        private static int estimate(Object value) {
            if (value instanceof Map<?, ?> map) {
                int bytes = 48;
                for (Map.Entry<?, ?> entry : map.entrySet()) {
                    bytes += 48 + 2 * String.valueOf(entry.getKey()).length() + estimate(entry.getValue());
                }
                return bytes;
            }
            if (value instanceof Iterable<?> values) {
                int bytes = 32;
                for (Object element : values) {
                    bytes += 8 + estimate(element);
                }
                return bytes;
            }
            return value instanceof String text ? 40 + 2 * text.length() : 24;
        }

        @Override
        public void write(WriteBuffer buffer, Object value) {
            if (value instanceof String text) {
                buffer.put(STRING).putVarInt(text.length()).putStringData(text, text.length());
                return;
            }
            if (value instanceof Long position) {
                buffer.put(LONG).putVarLong(position);
                return;
            }
            if (value instanceof KeyValue key && key.size() == 1 && key.get(0) instanceof String text) {
                buffer.put(KEY_OF_ONE_STRING).putVarInt(text.length()).putStringData(text, text.length());
                return;
            }
            byte kind;
            Document bson;
            if (value instanceof Document document) {
                kind = DOCUMENT;
                bson = document;
            } else if (value instanceof KeyValue key) {
                kind = KEY;
                bson = new Document("k", key.stream().toList());
            } else {
                kind = VALUE;
                bson = new Document("v", value);
            }
            ByteBuf encoded = Unpooled.buffer();
            try {
                BsonEncoder.encodeDocument(bson, encoded);
            } catch (IllegalArgumentException unsupported) {
                buffer.put(JAVA);
                JAVA_SERIALIZED.write(buffer, value);
                return;
            }
            buffer.put(kind).putVarInt(encoded.readableBytes()).put(encoded.nioBuffer());
        }

        @Override
        public Object read(ByteBuffer buffer) {
            byte kind = buffer.get();
            switch (kind) {
                case JAVA:
                    return JAVA_SERIALIZED.read(buffer);
                case STRING:
                    return DataUtils.readString(buffer, DataUtils.readVarInt(buffer));
                case KEY_OF_ONE_STRING:
                    return new KeyValue(DataUtils.readString(buffer, DataUtils.readVarInt(buffer)));
                case LONG:
                    return DataUtils.readVarLong(buffer);
                default:
                    break;
            }
            int length = DataUtils.readVarInt(buffer);
            ByteBuffer encoded = buffer.slice();
            encoded.limit(length);
            buffer.position(buffer.position() + length);
            Document bson = BsonDecoder.decodeBson(Unpooled.wrappedBuffer(encoded));
            return switch (kind) {
                case DOCUMENT -> bson;
                case KEY -> new KeyValue((List<?>) bson.get("k"));
                default -> bson.get("v");
            };
        }

        @Override
        public Object[] createStorage(int size) {
            return new Object[size];
        }
    }

    static final class BsonValuesBackend extends H2Backend {
        BsonValuesBackend(MVStore store) {
            super(store);
        }

        @Override
        protected MongoDatabase openOrCreateDatabase(String databaseName) {
            return new BsonValuesDatabase(databaseName, STORE, getCursorRegistry());
        }
    }

    /** Opens each map with BsonValues first; H2Database's own openMap(name) then finds it open. */
    static final class BsonValuesDatabase extends H2Database {
        BsonValuesDatabase(String name, MVStore store, de.bwaldvogel.mongo.backend.CursorRegistry cursors) {
            super(name, store, cursors);
        }

        private static void openWithBsonValues(String mapName) {
            BsonValues type = new BsonValues();
            STORE.openMap(mapName, new MVMap.Builder<Object, Object>().keyType(type).valueType(type));
        }

        /**
         * Fails loudly unless the map H2Database opened (its private field) is the one opened here: a
         * server version that names its maps otherwise must not write H2's default format into this file.
         */
        private static <T> T requireBsonValues(T opened, String mapField) {
            try {
                java.lang.reflect.Field field = opened.getClass().getDeclaredField(mapField);
                field.setAccessible(true);
                if (((MVMap<?, ?>) field.get(opened)).getValueType() instanceof BsonValues) {
                    return opened;
                }
            } catch (ReflectiveOperationException unexpected) {
                throw new IllegalStateException("cannot check the map of " + opened.getClass(), unexpected);
            }
            throw new IllegalStateException(opened.getClass() + " opened a map without BsonValues");
        }

        @Override
        protected Index<Object> openOrCreateUniqueIndex(
            String collectionName, String indexName, java.util.List<IndexKey> keys, boolean sparse) {
            openWithBsonValues(getFullCollectionNamespace(collectionName) + "._index_" + indexName);
            Index<Object> opened = requireBsonValues(super.openOrCreateUniqueIndex(collectionName, indexName, keys, sparse), "mvMap");
            return new NarrowingIndex(opened, indexName, keys, sparse);
        }

        /** As H2Database opens a collection (the same maps), but stored in the order written. */
        @Override
        protected MongoCollection<Object> openOrCreateCollection(String collectionName, CollectionOptions options) {
            String namespace = getFullCollectionNamespace(collectionName);
            BsonValues type = new BsonValues();
            MVMap<Object, Document> documents =
                STORE.openMap("databases." + namespace, new MVMap.Builder<Object, Document>().keyType(type).valueType(type));
            MVMap<String, Object> meta = STORE.openMap("meta." + namespace);
            return new InsertionOrderedCollection(this, collectionName, options, documents, meta, cursorRegistry);
        }
    }

    /**
     * A unique index that also narrows a query naming its fields and others: mongo-java-server asks an
     * index only about a query whose fields are exactly the index's, and scans the whole collection
     * otherwise. {_id, claim} or {_id, version} (a compare-and-set) scanned every document, where MongoDB
     * uses the _id index. Here the index finds the documents for its own fields' conditions; the server
     * then matches each found document against the whole query, as it does after any index lookup.
     */
    static final class NarrowingIndex extends Index<Object> {
        private final Index<Object> index;
        private final List<String> fields;

        NarrowingIndex(Index<Object> index, String name, List<IndexKey> keys, boolean sparse) {
            super(name, keys, sparse);
            this.index = index;
            this.fields = keys.stream().map(IndexKey::getKey).toList();
        }

        /** The query's conditions on this index's fields, if it has one on each (all top-level fields are ANDed). */
        private Document onOwnFields(Document query) {
            if (!query.keySet().containsAll(fields)) {
                return null;
            }
            Document own = new Document();
            for (String field : fields) {
                own.put(field, query.get(field));
            }
            return index.canHandle(own) ? own : null;
        }

        @Override
        public boolean canHandle(Document query) {
            return index.canHandle(query) || onOwnFields(query) != null;
        }

        @Override
        public Iterable<Object> getPositions(Document query) {
            return index.getPositions(index.canHandle(query) ? query : onOwnFields(query));
        }

        @Override
        public Object getPosition(Document document) {
            return index.getPosition(document);
        }

        @Override
        public void checkAdd(Document document, MongoCollection<Object> collection) {
            index.checkAdd(document, collection);
        }

        @Override
        public void add(Document document, Object position, MongoCollection<Object> collection) {
            index.add(document, position, collection);
        }

        @Override
        public Object remove(Document document) {
            return index.remove(document);
        }

        @Override
        public long getCount() {
            return index.getCount();
        }

        @Override
        public long getDataSize() {
            return index.getDataSize();
        }

        @Override
        public void checkUpdate(Document oldDocument, Document newDocument, MongoCollection<Object> collection) {
            index.checkUpdate(oldDocument, newDocument, collection);
        }

        @Override
        public void updateInPlace(Document oldDocument, Document newDocument, Object position, MongoCollection<Object> collection)
            throws de.bwaldvogel.mongo.exception.KeyConstraintError {
            index.updateInPlace(oldDocument, newDocument, position, collection);
        }

        @Override
        public void drop() {
            index.drop();
        }

        @Override
        public boolean isUnique() {
            return index.isUnique();
        }
    }

    /**
     * A collection whose documents are kept under the order they were inserted in, not under their
     * ``_id``; the ``_id`` index (and every other) points to that position, as it did to the ``_id``.
     *
     * H2 writes a changed page whole, at the next commit. Under ``_id``s that are random (event ids,
     * hashes of dedupe keys, UUIDs), every insert changed a page of older documents: 30,000 inserts
     * of 830-byte documents into 300,000 wrote 286 MB and cost 3.6 s of CPU, against 25 MB and 0.2 s
     * with ordered keys (measured here). The unique indexes still take random keys, but their entries
     * are small. Natural order becomes insertion order, as on MongoDB.
     */
    static final class InsertionOrderedCollection extends H2Collection {
        private final MVMap<Object, Document> documents;
        private final AtomicLong next;

        InsertionOrderedCollection(
            MongoDatabase database, String name, CollectionOptions options, MVMap<Object, Document> documents,
            MVMap<String, Object> meta, de.bwaldvogel.mongo.backend.CursorRegistry cursors) {
            super(database, name, options, documents, meta, cursors);
            this.documents = documents;
            Object last = documents.isEmpty() ? null : documents.lastKey();
            if (last != null && !(last instanceof Long)) {
                throw new IllegalStateException("collection " + name + " is keyed by _id: a file of an older format");
            }
            next = new AtomicLong(last == null ? 0 : (Long) last + 1);
        }

        @Override
        protected Object addDocumentInternal(Document document) {
            Long position = next.getAndIncrement();
            documents.put(position, document);
            return position;
        }
    }

    public static void main(String[] args) throws InterruptedException {
        if (args.length != 2) {
            System.err.println("usage: MongoLauncher <port> <file.mv>");
            System.exit(2);
        }
        int port = Integer.parseInt(args[0]);
        String file = args[1];

        STORE = new MVStore.Builder().fileName(file).open();
        // A query reads the version of a collection it started on, unprotected: H2 reuses the space of
        // chunks no newer version needs once they are older than this. At H2's 45 s, a scan of a large
        // collection under writes failed with "Chunk ... not found" (h2database#4218); freed space now
        // waits 10 minutes.
        STORE.setRetentionTime(10 * 60 * 1000);
        H2Backend backend = new BsonValuesBackend(STORE);
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
