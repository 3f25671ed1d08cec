package dev.jdm.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.testkit.ExternalTools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * STARTTLS with X.509 certificates made by openssl for the test: a CA, a server certificate and a
 * client certificate, used by libnbd's tools through GnuTLS.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(300)
class TlsTest {
  private Path pki;
  /** What libnbd reads with tls-certificates=: ca-cert.pem, client-cert.pem, client-key.pem. */
  private Path clientDir;
  /** Only the CA: a client with no certificate of its own. */
  private Path anonymousDir;
  private NbdFixture fx;

  @BeforeAll
  void makeCertificates() throws Exception {
    pki = Files.createTempDirectory("jdm-nbd-pki");
    clientDir = Files.createDirectory(pki.resolve("client"));
    anonymousDir = Files.createDirectory(pki.resolve("anonymous"));
    String script = """
        set -e
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca-cert.pem -days 2 \
          -subj '/CN=jdm test CA' 2>/dev/null
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > srv.ext
        printf 'extendedKeyUsage=clientAuth\\n' > cli.ext
        openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr \
          -subj '/CN=localhost' 2>/dev/null
        openssl x509 -req -in server.csr -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial \
          -out server-cert.pem -days 2 -extfile srv.ext 2>/dev/null
        openssl rsa -in server-key.pem -traditional -out server-key-pkcs1.pem 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -keyout client/client-key.pem -out client.csr \
          -subj '/CN=jdm test client' 2>/dev/null
        openssl x509 -req -in client.csr -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial \
          -out client/client-cert.pem -days 2 -extfile cli.ext 2>/dev/null
        cp ca-cert.pem client/ca-cert.pem
        cp ca-cert.pem anonymous/ca-cert.pem
        """;
    NbdFixture.requireTool("openssl");
    Process p = new ProcessBuilder("sh", "-c", script).directory(pki.toFile())
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertEquals(0, p.waitFor(), out);
  }

  @AfterAll
  void removeCertificates() throws Exception {
    NbdFixture.deleteTree(pki);
  }

  @AfterEach
  void stop() throws Exception {
    if (fx != null) {
      fx.close();
    }
  }

  private void start(String mode, boolean verifyClient, String key) throws Exception {
    fx = NbdFixture.start("jdm.frontends.nbd.tls { mode = " + mode + ", certificate = \""
        + pki.resolve("server-cert.pem") + "\", key = \"" + pki.resolve(key) + "\", trust = \""
        + pki.resolve("ca-cert.pem") + "\", verify-client = " + verifyClient + " }");
    fx.linear("disk", fx.file("disk.img", 16 << 20));
  }

  private String tlsUri(Path certificates) {
    return "nbds+unix:///disk?socket=" + fx.socket + "&tls-certificates=" + certificates;
  }

  @Test
  void requiredTlsWithClientCertificatesCarriesDataAndRefusesPlainClients() throws Exception {
    start("require", true, "server-key.pem");
    String info = fx.ok(List.of("nbdinfo", "--json", tlsUri(clientDir)), 60);
    assertTrue(info.contains("\"TLS\": true"), info);
    assertTrue(info.contains("\"export-size\": 16777216"), info);

    Path source = fx.randomFile("source.bin", 8 << 20);
    Path back = fx.dir.resolve("back.bin");
    fx.ok(List.of("nbdcopy", source.toString(), tlsUri(clientDir)), 120);
    fx.ok(List.of("nbdcopy", tlsUri(clientDir), back.toString()), 120);
    String head = fx.ok(List.of("sh", "-c", "head -c 8388608 " + back + " | sha256sum"), 60);
    assertTrue(head.startsWith(NbdFixture.sha256(source)), head);

    ExternalTools.Result plain = fx.run(List.of("nbdinfo", fx.uri("disk")), 60);
    assertNotEquals(0, plain.exit(), "a plain client must be refused: " + plain.out());
    ExternalTools.Result anonymous = fx.run(List.of("nbdinfo", tlsUri(anonymousDir)), 60);
    assertNotEquals(0, anonymous.exit(), "a client without a certificate must be refused");
  }

  @Test
  void optionalTlsServesBothAndReadsAPkcs1Key() throws Exception {
    start("on", false, "server-key-pkcs1.pem");
    String plain = fx.ok(List.of("nbdinfo", "--json", fx.uri("disk")), 60);
    assertTrue(plain.contains("\"TLS\": false"), plain);
    String secure = fx.ok(List.of("nbdinfo", "--json", tlsUri(anonymousDir)), 60);
    assertTrue(secure.contains("\"TLS\": true"), secure);
    fx.ok(List.of("qemu-io", "-f", "raw", "-c", "write -P 0x42 0 1M", fx.uri("disk")), 60);
    String map = fx.ok(List.of("nbdinfo", "--map", tlsUri(anonymousDir)), 60);
    assertTrue(map.contains("1048576") && map.contains("data"), map);
  }

  @Test
  void aJdmTableReadsAndWritesARemoteExportOverTls() throws Exception {
    start("require", true, "server-key.pem");
    // The client side reads its certificates as libnbd does, from tls-certificates=DIR.
    NbdFixture client = NbdFixture.start("");
    try {
      String remote = tlsUri(clientDir);
      client.create("secure", "0 32768 linear " + remote + " 0", false);
      String qemu = client.ok(List.of("qemu-io", "-f", "raw", "-c", "write -P 0x6b 1M 64k",
          client.uri("secure")), 60);
      assertTrue(!qemu.contains("failed"), qemu);
      // qemu-io has gone; the server notices its connection close a moment later (open count).
      for (int i = 0; ; i++) {
        try {
          client.mapper.remove("secure", false);
          break;
        } catch (dev.jdm.kernel.DmException busy) {
          if (i == 100) {
            throw busy;
          }
          Thread.sleep(50);
        }
      }
      assertEquals(0x6b, Files.readAllBytes(fx.dir.resolve("disk.img"))[(1 << 20) + 100]);

      Exception anonymous = org.junit.jupiter.api.Assertions.assertThrows(Exception.class,
          () -> client.create("refused", "0 32768 linear " + tlsUri(anonymousDir) + " 0", false));
      assertTrue(anonymous.getMessage().contains("Device lookup failed: " + tlsUri(anonymousDir)),
          anonymous.getMessage());
    } finally {
      client.close();
    }
    // The same from jdm.kernel.nbd.tls, and the server's name checked against its certificate.
    NbdFixture configured = NbdFixture.start("jdm.kernel.nbd.tls { certificate = \""
        + clientDir.resolve("client-cert.pem") + "\", key = \""
        + clientDir.resolve("client-key.pem") + "\", trust = \"" + pki.resolve("ca-cert.pem")
        + "\" }");
    try {
      configured.create("named", "0 32768 linear nbds+unix:///disk?socket=" + fx.socket
          + "&tls-hostname=localhost 0", false);
      Exception wrongName = org.junit.jupiter.api.Assertions.assertThrows(Exception.class,
          () -> configured.create("wrong", "0 32768 linear nbds+unix:///disk?socket=" + fx.socket
              + "&tls-hostname=elsewhere.example 0", false));
      assertTrue(wrongName.getMessage().contains("Device lookup failed"), wrongName.getMessage());
    } finally {
      configured.close();
    }
  }
}
