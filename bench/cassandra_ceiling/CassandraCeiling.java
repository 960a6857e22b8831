// bench/cassandra_ceiling/CassandraCeiling.java: Cassandra alone, writing what
// the Spark job writes per user (issue 13, "First, the ceilings"). Run through
// bench/cassandra_ceiling.py, which compiles it with the stack's JDK, makes the
// keyspace from stack/cql and measures CPU from /proc around the markers below.
//
// Per user, the rows of the job's insert path (UsersBatch, simple case): the
// users row with every column the job writes in hmac mode (the 43 of
// transform.user_rows + the 4 sign-up key columns), its users_by_email_hash and
// users_by_country rows, and with --tables 4 its signup_events row. Each is a
// prepared INSERT ... USING TIMESTAMP ? at LOCAL_QUORUM, executed
// asynchronously with at most --in-flight requests outstanding (a semaphore),
// through the DataStax Java driver 4.x that the Spark Cassandra Connector
// brings (the stack's Spark jars). Values are synthetic but shaped like
// randomuser data (HMACs are 64 hex digits, URLs and names of the same length).
//
// --layout sai (issue 13, lever "one Cassandra write per user"): the users row
// alone, into a keyspace whose users table has Storage-Attached Indexes on
// email_hmac and country_code (made by bench/cassandra_ceiling.py); the two
// lookup tables are not written.
//
// --lookups N: after the measured writes, N lookups by email HMAC (of users
// written in this run) and N by country, one at a time (synchronous), each
// timed on the client; the project's queries (stack/cql/030_users.cql Q2, Q3
// with a first page of --page rows) for --layout tables, the same questions
// answered from users through the indexes for --layout sai, selecting the
// columns the lookup tables hold.
//
// Output (stdout): "MEASURE-START" after the warm-up users, "MEASURE-END" after
// the measured ones (with --settle 1 then "SETTLE", and a line on stdin is
// awaited before going on), "LOOKUP-START"/"LOOKUP-END" around the timed lookups, then
// one JSON line. Credentials come from the cqlsh credentials file named by
// --credentials (never the command line).
import com.datastax.oss.driver.api.core.CqlSession;
import com.datastax.oss.driver.api.core.config.DefaultDriverOption;
import com.datastax.oss.driver.api.core.config.DriverConfigLoader;
import com.datastax.oss.driver.api.core.cql.BoundStatement;
import com.datastax.oss.driver.api.core.cql.PreparedStatement;
import com.datastax.oss.driver.api.core.cql.ResultSet;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

public final class CassandraCeiling {
    static final String[] USERS_COLS = {
        "user_id", "gender", "title", "first_name", "last_name", "full_name", "email_domain",
        "email_hmac", "phone_hmac", "cell_hmac", "username", "dob", "birth_date", "age",
        "registered_at", "registered_date", "street_number", "street_name", "city", "state",
        "postcode", "country", "country_code", "location", "latitude", "longitude", "tz_offset",
        "tz_description", "id_name", "id_value", "picture_large", "picture_medium",
        "picture_thumbnail", "nat", "source_url", "source_seed", "source_page", "fetched_at",
        "run_id", "loaded_at", "commit_lsn", "commit_seq", "commit_ts", "signup_minute",
        "signup_country", "signup_lsn", "signup_version"};
    static final String[] COUNTRIES = {"AU", "BR", "CA", "CH", "DE", "DK", "ES", "FI", "FR", "GB",
        "IE", "IN", "IR", "MX", "NL", "NO", "NZ", "RS", "TR", "UA", "US"};
    static final String[] COUNTRY_NAMES = {"Australia", "Brazil", "Canada", "Switzerland",
        "Germany", "Denmark", "Spain", "Finland", "France", "United Kingdom", "Ireland", "India",
        "Iran", "Mexico", "Netherlands", "Norway", "New Zealand", "Serbia", "Turkey", "Ukraine",
        "United States"};

    final Map<String, String> opt;
    final SplittableRandom rnd;
    final CqlSession session;
    final PreparedStatement users, byEmail, byCountry, signups, lookupEmail, lookupCountry;
    final boolean sai;
    final int sampleEvery;
    final List<String> sample = new ArrayList<>();
    final Semaphore window;
    final int inFlight;
    final AtomicLong errors = new AtomicLong();
    final AtomicReference<Throwable> firstError = new AtomicReference<>();
    long lsn = 0x2000000L;

    CassandraCeiling(Map<String, String> opt, CqlSession session) {
        this.opt = opt;
        this.session = session;
        this.rnd = new SplittableRandom(Long.parseLong(opt.getOrDefault("seed", "13")));
        this.inFlight = Integer.parseInt(opt.getOrDefault("in-flight", "128"));
        this.window = new Semaphore(inFlight);
        String ks = opt.get("keyspace");
        String layout = opt.getOrDefault("layout", "tables");
        if (!layout.equals("tables") && !layout.equals("sai"))
            throw new IllegalArgumentException("--layout must be tables or sai, not " + layout);
        this.sai = layout.equals("sai");
        int lookups = Integer.parseInt(opt.getOrDefault("lookups", "0"));
        this.sampleEvery = Math.max(1, Integer.parseInt(opt.get("users")) / Math.max(1, lookups));
        users = session.prepare(insert(ks, "users", USERS_COLS));
        byEmail = session.prepare(insert(ks, "users_by_email_hash", new String[] {"email_hmac",
            "user_id", "full_name", "country_code", "email_domain", "registered_at"}));
        byCountry = session.prepare(insert(ks, "users_by_country", new String[] {"country_code",
            "bucket", "user_id", "full_name", "city", "email_domain", "registered_at"}));
        signups = session.prepare(insert(ks, "signup_events", new String[] {"day", "minute",
            "country_code", "user_id", "commit_lsn", "version"}));
        String in = "0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15";
        // Prepared only when asked for: with one SAI index the other query would need ALLOW FILTERING.
        lookupEmail = lookups == 0 ? null : session.prepare(sai
            ? "SELECT user_id, full_name, country_code, email_domain, registered_at FROM " + ks
                  + ".users WHERE email_hmac = ?"
            : "SELECT * FROM " + ks + ".users_by_email_hash WHERE email_hmac = ?");
        lookupCountry = lookups == 0 ? null : session.prepare(sai
            ? "SELECT user_id, full_name, city, email_domain, registered_at FROM " + ks
                  + ".users WHERE country_code = ? LIMIT ?"
            : "SELECT * FROM " + ks + ".users_by_country WHERE country_code = ? AND bucket IN (" + in
                  + ") LIMIT ?");
    }

    static String insert(String ks, String table, String[] cols) {
        StringBuilder q = new StringBuilder("INSERT INTO " + ks + "." + table + " (");
        q.append(String.join(", ", cols)).append(") VALUES (");
        for (int i = 0; i < cols.length; i++)
            q.append(i == 0 ? "?" : ", ?");
        return q.append(") USING TIMESTAMP ?").toString();
    }

    String word(int min, int max) {
        int n = min + rnd.nextInt(max - min + 1);
        char[] c = new char[n];
        for (int i = 0; i < n; i++)
            c[i] = (char) ('a' + rnd.nextInt(26));
        c[0] = Character.toUpperCase(c[0]);
        return new String(c);
    }

    String hex(int n) {
        char[] c = new char[n];
        for (int i = 0; i < n; i++)
            c[i] = "0123456789abcdef".charAt(rnd.nextInt(16));
        return new String(c);
    }

    /** Writes one user's rows; blocks while --in-flight requests are outstanding. */
    void writeUser(int seq, int tables, boolean measured) throws InterruptedException {
        UUID id = new UUID(rnd.nextLong() & 0xffffffffffff0fffL | 0x4000L,
                           rnd.nextLong() & 0x3fffffffffffffffL | 0x8000000000000000L);
        int seqInTxn = seq % 5000;
        if (seqInTxn == 0)
            lsn += 0x10000;
        long version = (lsn << 20) + seqInTxn;
        Instant now = Instant.now();
        Instant minute = now.truncatedTo(java.time.temporal.ChronoUnit.MINUTES);
        int ci = rnd.nextInt(COUNTRIES.length);
        String cc = COUNTRIES[ci];
        String first = word(4, 9), last = word(5, 10), full = first + " " + last;
        String domain = "example.com", emailHmac = hex(64), city = word(5, 12);
        Instant dob = Instant.ofEpochSecond(rnd.nextLong(0, 1_000_000_000L));
        Instant reg = Instant.ofEpochSecond(rnd.nextLong(1_000_000_000L, 1_700_000_000L));
        String img = "https://randomuser.me/api/portraits/" + (rnd.nextBoolean() ? "women" : "men") + "/"
                     + rnd.nextInt(100) + ".jpg";
        Object[] u = {id, rnd.nextBoolean() ? "female" : "male", "Mr", first, last, full, domain,
            emailHmac, hex(64), hex(64), word(8, 16), dob, LocalDate.ofInstant(dob, ZoneOffset.UTC),
            30 + rnd.nextInt(40), reg, LocalDate.ofInstant(reg, ZoneOffset.UTC), rnd.nextInt(9999),
            word(6, 14) + " Street", city, word(6, 12), String.valueOf(10000 + rnd.nextInt(89999)),
            COUNTRY_NAMES[ci], cc, rnd.nextInt(9999) + " " + word(6, 14) + " Street, " + city + ", "
            + word(6, 12) + " 12345, " + COUNTRY_NAMES[ci], rnd.nextDouble(-90, 90),
            rnd.nextDouble(-180, 180), "+9:30", "Adelaide, Darwin", "SSN", "405-88-" + rnd.nextInt(9999),
            img, img.replace("portraits/", "portraits/med/"), img.replace("portraits/", "portraits/thumb/"),
            cc, "http://127.0.0.1:8100/api/1.4/?seed=ceiling&page=1&results=5000", "ceiling", 1 + seq / 5000,
            now, "bench-ceiling", now, lsn, seqInTxn, now, minute, cc, lsn, version};
        if (measured && seq % sampleEvery == 0)
            sample.add(emailHmac);
        send(users.bind(u).setLong(USERS_COLS.length, version));
        if (!sai) {
            send(byEmail.bind(emailHmac, id, full, cc, domain, reg).setLong(6, version));
            send(byCountry.bind(cc, (int) (id.getMostSignificantBits() >>> 60), id, full, city, domain, reg)
                     .setLong(7, version));
        }
        if (tables >= 4)
            send(signups.bind(LocalDate.ofInstant(minute, ZoneOffset.UTC), minute, cc, id, lsn, version)
                     .setLong(6, version));
    }

    void send(BoundStatement st) throws InterruptedException {
        window.acquire();
        session.executeAsync(st).whenComplete((rs, err) -> {
            if (err != null) {
                errors.incrementAndGet();
                firstError.compareAndSet(null, err);
            }
            window.release();
        });
    }

    /** Latencies in microseconds of n lookups (after n/10 untimed ones), rows found, misses. */
    static final class Timed {
        long[] us;
        long rows, misses;

        String json(String name) {
            Arrays.sort(us);
            int n = us.length;
            return String.format("\"%s\": {\"n\": %d, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f, "
                                     + "\"mean_rows\": %.1f, \"misses\": %d}",
                                 name, n, us[(int) (0.50 * (n - 1))] / 1e3, us[(int) (0.99 * (n - 1))] / 1e3,
                                 us[n - 1] / 1e3, rows / (double) n, misses);
        }
    }

    Timed lookupByEmail(int n) {
        Timed t = new Timed();
        t.us = new long[n];
        for (int i = 0; i < n; i++) {
            String h = sample.get(rnd.nextInt(sample.size()));
            long t0 = System.nanoTime();
            int rows = session.execute(lookupEmail.bind(h)).all().size();
            t.us[i] = (System.nanoTime() - t0) / 1000;
            t.rows += rows;
            if (rows == 0)
                t.misses++;
        }
        return t;
    }

    Timed lookupByCountry(int n, int page) {
        Timed t = new Timed();
        t.us = new long[n];
        for (int i = 0; i < n; i++) {
            String cc = COUNTRIES[rnd.nextInt(COUNTRIES.length)];
            long t0 = System.nanoTime();
            int rows = session.execute(lookupCountry.bind(cc, page)).all().size();
            t.us[i] = (System.nanoTime() - t0) / 1000;
            t.rows += rows;
            if (rows < page)
                t.misses++;
        }
        return t;
    }

    void drain() throws InterruptedException {
        window.acquire(inFlight);
        window.release(inFlight);
    }

    static Map<String, String> parse(String[] args) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--"))
                throw new IllegalArgumentException("expected --option value, got " + args[i]);
            m.put(args[i].substring(2), args[i + 1]);
        }
        for (String k : new String[] {"host", "port", "keyspace", "credentials", "users"})
            if (!m.containsKey(k))
                throw new IllegalArgumentException("--" + k + " is required");
        return m;
    }

    /** [plain_text_auth] username/password of a cqlsh credentials file. */
    static String[] credentials(String path) throws IOException {
        String user = null, pw = null;
        boolean in = false;
        for (String line : Files.readAllLines(Path.of(path))) {
            String t = line.trim();
            if (t.startsWith("["))
                in = t.equals("[plain_text_auth]");
            else if (in && t.contains("=")) {
                String k = t.substring(0, t.indexOf('=')).trim(), v = t.substring(t.indexOf('=') + 1).trim();
                if (k.equals("username"))
                    user = v;
                else if (k.equals("password"))
                    pw = v;
            }
        }
        if (user == null || pw == null)
            throw new IOException(path + ": expected [plain_text_auth] with username and password");
        return new String[] {user, pw};
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opt;
        String[] cred;
        try {
            opt = parse(args);
            cred = credentials(opt.get("credentials"));
        } catch (IllegalArgumentException | IOException e) {
            System.err.println("CassandraCeiling: " + e.getMessage());
            System.exit(2);
            return;
        }
        int n = Integer.parseInt(opt.get("users")), warm = Integer.parseInt(opt.getOrDefault("warmup", "20000"));
        int tables = Integer.parseInt(opt.getOrDefault("tables", "3"));
        int lookups = Integer.parseInt(opt.getOrDefault("lookups", "0"));
        int page = Integer.parseInt(opt.getOrDefault("page", "100"));
        DriverConfigLoader conf = DriverConfigLoader.programmaticBuilder()
            .withString(DefaultDriverOption.REQUEST_CONSISTENCY, "LOCAL_QUORUM")
            .withDuration(DefaultDriverOption.REQUEST_TIMEOUT, Duration.ofSeconds(30))
            .withDuration(DefaultDriverOption.CONNECTION_INIT_QUERY_TIMEOUT, Duration.ofSeconds(30))
            .withDuration(DefaultDriverOption.CONTROL_CONNECTION_TIMEOUT, Duration.ofSeconds(30))
            .build();
        try (CqlSession s = CqlSession.builder()
                 .addContactPoint(new InetSocketAddress(opt.get("host"), Integer.parseInt(opt.get("port"))))
                 .withLocalDatacenter(opt.getOrDefault("dc", "datacenter1"))
                 .withAuthCredentials(cred[0], cred[1])
                 .withConfigLoader(conf)
                 .build()) {
            CassandraCeiling c;
            try {
                c = new CassandraCeiling(opt, s);
            } catch (IllegalArgumentException e) {
                System.err.println("CassandraCeiling: " + e.getMessage());
                System.exit(2);
                return;
            }
            int rowsPerUser = c.sai ? tables - 2 : tables;
            for (int i = 0; i < warm; i++)
                c.writeUser(i, tables, false);
            c.drain();
            System.out.println("MEASURE-START");
            System.out.flush();
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++)
                c.writeUser(warm + i, tables, true);
            c.drain();
            double secs = (System.nanoTime() - t0) / 1e9;
            System.out.println("MEASURE-END");
            System.out.flush();
            if (opt.getOrDefault("settle", "0").equals("1")) {
                // The caller waits for Cassandra's flushes and compactions to end, then says so.
                System.out.println("SETTLE");
                System.out.flush();
                if (new java.io.BufferedReader(new java.io.InputStreamReader(System.in)).readLine() == null)
                    throw new IOException("stdin closed while waiting for the settle");
            }
            String lookupJson = "";
            if (lookups > 0 && c.errors.get() == 0) {
                c.lookupByEmail(Math.max(1, lookups / 10)); // untimed: JIT, prepared paths
                c.lookupByCountry(Math.max(1, lookups / 10), page);
                System.out.println("LOOKUP-START");
                System.out.flush();
                long l0 = System.nanoTime();
                Timed e = c.lookupByEmail(lookups), k = c.lookupByCountry(lookups, page);
                double lsecs = (System.nanoTime() - l0) / 1e9;
                System.out.println("LOOKUP-END");
                lookupJson = String.format(", \"lookups\": %d, \"page\": %d, \"lookup_seconds\": %.2f, %s, %s",
                                           lookups, page, lsecs, e.json("by_email"), k.json("by_country"));
            }
            System.out.printf("{\"bench\": \"cassandra_ceiling\", \"layout\": \"%s\", \"users\": %d, "
                                  + "\"warmup_users\": %d, \"tables\": %d, \"rows_per_user\": %d, "
                                  + "\"in_flight\": %d, \"seconds\": %.2f, \"users_per_s\": %d, "
                                  + "\"rows_per_s\": %d, \"errors\": %d%s}%n",
                              c.sai ? "sai" : "tables", n, warm, tables, rowsPerUser, c.inFlight, secs,
                              Math.round(n / secs), Math.round(n * (double) rowsPerUser / secs), c.errors.get(),
                              lookupJson);
            System.out.flush();
            if (c.errors.get() > 0) {
                System.err.println("CassandraCeiling: " + c.errors.get() + " writes failed, the first: "
                                   + c.firstError.get());
                System.exit(1);
            }
        }
    }
}
