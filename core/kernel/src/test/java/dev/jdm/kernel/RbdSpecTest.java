package dev.jdm.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** qemu's rbd: spelling. */
class RbdSpecTest {
  @Test
  void poolImageSnapshotAndOptions() {
    RbdSpec s = RbdSpec.parse("rbd:vms/disk1@monday:id=jdm:conf=/etc/ceph/other.conf"
        + ":mon_host=10.0.0.1\\:6789:rbd_cache=true");
    assertEquals("vms", s.pool());
    assertEquals("", s.namespace());
    assertEquals("disk1", s.image());
    assertEquals("monday", s.snapshot());
    assertEquals("jdm", s.id());
    assertEquals("/etc/ceph/other.conf", s.conf());
    assertEquals(Map.of("mon_host", "10.0.0.1:6789", "rbd_cache", "true"), s.options());
  }

  @Test
  void namespaceAndNoOptions() {
    RbdSpec s = RbdSpec.parse("rbd:pool/tenant/image");
    assertEquals("tenant", s.namespace());
    assertEquals("image", s.image());
    assertNull(s.snapshot());
    assertNull(s.id());
    assertNull(s.conf());
    assertEquals("rbd:pool/tenant/image", s.toString());
  }

  @Test
  void refusesWhatNamesNoImage() {
    for (String bad : new String[] {"rbd:pool", "rbd:pool/", "rbd:/image", "rbd:a/b/c/d",
        "rbd:pool/image@", "rbd:pool/image:noequals"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> RbdSpec.parse(bad));
      assertTrue(!e.getMessage().isEmpty(), bad);
    }
  }
}
