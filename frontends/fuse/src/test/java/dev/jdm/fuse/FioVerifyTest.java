package dev.jdm.fuse;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** fio writes and verifies (crc32c) the FUSE file from four jobs at once, with direct I/O. */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class FioVerifyTest {
  @RegisterExtension final JdmMount jdm = new JdmMount();

  private void fio(String rw, String bs, String... extra) {
    String[] base = {"fio", "--name=verify", "--filename=" + jdm.file("disk"), "--rw=" + rw,
        "--bs=" + bs, "--size=16m", "--offset_increment=16m", "--numjobs=4",
        "--ioengine=psync", "--direct=1", "--verify=crc32c", "--verify_fatal=1",
        "--do_verify=1", "--verify_state_save=0", "--group_reporting"};
    String[] all = new String[base.length + extra.length];
    System.arraycopy(base, 0, all, 0, base.length);
    System.arraycopy(extra, 0, all, base.length, extra.length);
    String out = Tools.run(all).ok().out();
    assertTrue(out.contains("err= 0"), out);
  }

  /** A 64 MiB device "disk" of {@code target} over a backing file. */
  private void disk(String target) throws Exception {
    var f = jdm.backing("disk.img", 64L << 20);
    jdm.device("disk", "0 131072 " + target + " " + f + " 0");
  }

  @Test
  void fourJobsWriteAndVerifyRandomly() throws Exception {
    disk("linear");
    fio("randwrite", "4k");
  }

  @Test
  void fourJobsWriteAndVerifyLargeSequentialBlocks() throws Exception {
    disk("linear");
    fio("write", "1m");
  }

  @Test
  void stripedRequestsSplitAtChunksVerify() throws Exception {
    var a = jdm.backing("a.img", 32L << 20);
    var b = jdm.backing("b.img", 32L << 20);
    jdm.device("disk", "0 131072 striped 2 16 " + a + " 0 " + b + " 0");
    fio("randwrite", "64k");
  }

  @Test
  void requestsCompletedOnAnotherThreadVerify() throws Exception {
    jdm.registry().register(new LaterTarget.Type(), "test");
    disk("later");
    fio("randrw", "4k");
  }

  @Test
  void bufferedUnalignedWritesVerifyToo() throws Exception {
    disk("linear");
    fio("randwrite", "1000", "--direct=0", "--size=1m", "--offset_increment=16m");
  }
}
