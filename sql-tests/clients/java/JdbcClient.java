// pgjdbc against a PostgreSQL-compatible server: prints one line per check.
// Usage: java -cp postgresql.jar:. JdbcClient HOST PORT. The output must be identical on
// sledgres and on PostgreSQL 15 (the expected file was produced by PostgreSQL).
import java.math.BigDecimal;
import java.sql.*;

public class JdbcClient {
  public static void main(String[] args) throws Exception {
    String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/postgres";
    try (Connection c = DriverManager.getConnection(url, "postgres", "")) {
      DatabaseMetaData md = c.getMetaData();
      System.out.println("product: " + md.getDatabaseProductName() + " " + md.getDatabaseMajorVersion());
      try (Statement s = c.createStatement()) {
        s.execute("DROP TABLE IF EXISTS jdbc_items");
        s.execute("CREATE TABLE jdbc_items (id integer PRIMARY KEY, name varchar(20) NOT NULL,"
            + " price numeric(10,2), ok boolean, ratio double precision, qty bigint)");
      }
      // Batched inserts through one prepared statement.
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO jdbc_items VALUES (?, ?, ?, ?, ?, ?)")) {
        for (int i = 1; i <= 25; i++) {
          ps.setInt(1, i);
          ps.setString(2, "n" + i);
          ps.setBigDecimal(3, new BigDecimal(i).divide(new BigDecimal(4)));
          ps.setBoolean(4, i % 2 == 0);
          ps.setDouble(5, i / 8.0);
          ps.setLong(6, i * 1000L);
          ps.addBatch();
        }
        int[] counts = ps.executeBatch();
        System.out.println("batch: " + counts.length + " statements, first count " + counts[0]);
      }
      // Past prepareThreshold (5) pgjdbc switches to a named server-side statement and binary.
      try (PreparedStatement ps = c.prepareStatement("SELECT id, name, price, ok, ratio, qty FROM jdbc_items WHERE id = ?")) {
        for (int k = 1; k <= 8; k++) {
          ps.setInt(1, k);
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            if (k == 1 || k == 8) {
              System.out.println("row " + k + ": " + rs.getInt(1) + " " + rs.getString(2) + " " + rs.getBigDecimal(3)
                  + " " + rs.getBoolean(4) + " " + rs.getDouble(5) + " " + rs.getLong(6));
            }
          }
        }
      }
      try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT * FROM jdbc_items ORDER BY id LIMIT 1")) {
        ResultSetMetaData m = rs.getMetaData();
        StringBuilder b = new StringBuilder("metadata:");
        for (int i = 1; i <= m.getColumnCount(); i++) {
          b.append(" ").append(m.getColumnName(i)).append("/").append(m.getColumnTypeName(i));
        }
        System.out.println(b);
      }
      try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*), sum(price), avg(qty) FROM jdbc_items")) {
        rs.next();
        System.out.println("aggregates: " + rs.getLong(1) + " " + rs.getBigDecimal(2) + " " + rs.getBigDecimal(3));
      }
      // Streaming with a fetch size (a portal resumed with row limits) inside a transaction.
      c.setAutoCommit(false);
      try (Statement s = c.createStatement()) {
        s.setFetchSize(50);
        try (ResultSet rs = s.executeQuery("SELECT a.id, b.id FROM jdbc_items a, jdbc_items b")) {
          int n = 0;
          while (rs.next()) n++;
          System.out.println("fetched: " + n);
        }
      }
      c.commit();
      c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
      try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SHOW transaction_isolation")) {
        rs.next();
        System.out.println("isolation: " + rs.getString(1));
      }
      c.commit();
      c.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
      try (Statement s = c.createStatement()) {
        s.executeUpdate("UPDATE jdbc_items SET qty = 0 WHERE id = 1");
        Savepoint sp = c.setSavepoint("sp");
        s.executeUpdate("UPDATE jdbc_items SET qty = -1 WHERE id = 2");
        c.rollback(sp);
        c.commit();
        try (ResultSet rs = s.executeQuery("SELECT id, qty FROM jdbc_items WHERE id <= 2 ORDER BY id")) {
          while (rs.next()) System.out.println("after savepoint: " + rs.getInt(1) + " " + rs.getLong(2));
        }
        c.commit();
      }
      String[] bad = {"INSERT INTO jdbc_items (id, name) VALUES (1, 'x')", "SELECT * FROM jdbc_nosuch",
          "SELECT 'abc'::integer", "INSERT INTO jdbc_items (id, name) VALUES (99, 'far too long for twenty')"};
      for (String sql : bad) {
        try (Statement s = c.createStatement()) {
          s.execute(sql);
        } catch (SQLException e) {
          System.out.println("error: " + e.getSQLState() + " " + e.getMessage().split("\n")[0]);
          c.rollback();
        }
      }
      c.setAutoCommit(true);
      try (Statement s = c.createStatement()) {
        s.execute("DROP TABLE jdbc_items");
      }
    }
    System.out.println("done");
  }
}
