package dev.jdm.nbd.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** libnbd's URI spellings, and the short reasons for the ones that are not URIs of an export. */
class NbdUriTest {
  @Test
  void tcpWithAndWithoutPortAndExport() {
    NbdUri u = NbdUri.parse("nbd://example.com/disk");
    assertEquals("example.com", u.host());
    assertEquals(10809, u.port());
    assertEquals("disk", u.export());
    assertFalse(u.tls());
    assertNull(u.socket());

    NbdUri p = NbdUri.parse("nbds://10.0.0.1:10810");
    assertEquals("10.0.0.1", p.host());
    assertEquals(10810, p.port());
    assertEquals("", p.export());
    assertTrue(p.tls());

    NbdUri v6 = NbdUri.parse("nbd://[::1]:2000/a%20b");
    assertEquals("::1", v6.host());
    assertEquals(2000, v6.port());
    assertEquals("a b", v6.export());
    assertEquals("nbd://[::1]:2000/a%20b", v6.toString());
  }

  @Test
  void unixSocketsAndTlsParameters() {
    NbdUri u = NbdUri.parse("nbds+unix:///x?socket=/run/s.sock&tls-certificates=/etc/pki/nbd"
        + "&tls-verify-peer=false&tls-hostname=server");
    assertEquals(Path.of("/run/s.sock"), u.socket());
    assertEquals("x", u.export());
    assertTrue(u.tls());
    assertEquals(Path.of("/etc/pki/nbd"), u.certificates());
    assertFalse(u.verifyPeer());
    assertEquals("server", u.certificateName());
    assertNull(NbdUri.parse("nbd+unix:///?socket=/s").certificateName());
  }

  @Test
  void recognisesTheSchemesOnly() {
    assertTrue(NbdUri.matches("nbd://h/e"));
    assertTrue(NbdUri.matches("NBDS+UNIX:///e?socket=/s"));
    assertFalse(NbdUri.matches("/dev/mapper/x"));
    assertFalse(NbdUri.matches("rbd:pool/image"));
  }

  @Test
  void refusesWhatIsNotAnExport() {
    for (String[] bad : new String[][] {
        {"nbd+vsock:///e", "unsupported scheme 'nbd+vsock'"},
        {"nbd+unix:///e", "socket=PATH is missing"},
        {"nbd+unix://host/e?socket=/s", "a Unix socket URI names no host"},
        {"nbd:///e", "the host is missing"},
        {"nbd://h:99999/e", "invalid port '99999'"},
        {"nbd://h/e?socket=/s", "socket= is only for nbd+unix://"},
        {"nbd://h/e?tls-verify-peer=maybe", "tls-verify-peer=maybe: expected true or false"},
        {"nbd://h/e?color=blue", "unknown query parameter 'color'"},
        {"nbd://user@h/e", "user names (user@host) are not supported"}}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> NbdUri.parse(bad[0]));
      assertTrue(e.getMessage().startsWith(bad[1]), bad[0] + ": " + e.getMessage());
    }
  }
}
