package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.testkit.ExternalTools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The delay target measured by fio over NBD: the median completion latency is the configured
 * delay (within 10%) at queue depth 1 and 32, and at depth 32 all 32 requests are held at once,
 * which only one timer for many waiting requests allows.
 */
class DelayFioTest {
  private static final int DELAY_MS = 50;
  private static final long BYTES = 64L << 20;

  @TempDir Path dir;
  private NbdDaemon jdm;

  @BeforeEach
  void start() throws Exception {
    jdm = NbdDaemon.start(dir);
    Path disk = jdm.file("disk.img", BYTES);
    jdm.jdm("create", "slow", "--table", "0 " + BYTES / 512 + " delay " + disk + " 0 " + DELAY_MS);
  }

  @AfterEach
  void stop() throws Exception {
    jdm.close();
  }

  /** fio's median completion latency in ms of random 4 KiB reads at {@code depth}. */
  private double medianMs(int depth, int seconds) throws Exception {
    Path out = dir.resolve("fio-" + depth + ".json");
    List<String> fio = List.of("fio", "--name=qd" + depth, "--ioengine=nbd",
        "--uri=" + jdm.uri("slow"), "--rw=randread", "--bs=4k", "--iodepth=" + depth,
        "--runtime=" + seconds, "--time_based", "--ramp_time=1", "--verify_state_save=0",
        "--output-format=json", "--output=" + out);
    jdm.tools.ok(fio, 120);
    String json = Files.readString(out);
    // "clat_ns" : { ... "percentile" : { ... "50.000000" : N, ...
    Matcher m = Pattern.compile("\"clat_ns\"\\s*:\\s*\\{.*?\"50\\.000000\"\\s*:\\s*(\\d+)",
        Pattern.DOTALL).matcher(json);
    assertTrue(m.find(), "no median in fio's output: " + json);
    return Long.parseLong(m.group(1)) / 1e6;
  }

  @Test
  void medianLatencyIsTheDelayAtQueueDepthOne() throws Exception {
    double median = medianMs(1, 3);
    System.out.printf("delay %d ms, fio randread QD1: median %.2f ms%n", DELAY_MS, median);
    assertEquals(DELAY_MS, median, DELAY_MS * 0.1, "median at QD1");
  }

  @Test
  void thirtyTwoRequestsWaitAtOnceAtQueueDepth32() throws Exception {
    Path log = dir.resolve("fio-bg.log");
    Process fio = jdm.tools.spawn(List.of("fio", "--name=held", "--ioengine=nbd",
        "--uri=" + jdm.uri("slow"), "--rw=randread", "--bs=4k", "--iodepth=32", "--runtime=3",
        "--time_based", "--verify_state_save=0"), log);
    int most = 0;
    long end = System.nanoTime() + 2_500_000_000L;
    while (System.nanoTime() < end && fio.isAlive()) {
      String line = jdm.jdm("status", "slow").lines().findFirst().orElseThrow();
      // 0 131072 delay <reads> <writes> <flushes>
      most = Math.max(most, Integer.parseInt(line.split(" ")[3]));
      Thread.sleep(10);
    }
    assertEquals(0, fio.waitFor(), () -> "fio: " + log);
    System.out.printf("delay %d ms, fio randread QD32: at most %d reads held at once%n", DELAY_MS,
        most);
    assertEquals(32, most, "reads held at once: " + Files.readString(log));

    double median = medianMs(32, 3);
    System.out.printf("delay %d ms, fio randread QD32: median %.2f ms%n", DELAY_MS, median);
    assertEquals(DELAY_MS, median, DELAY_MS * 0.1, "median at QD32");
  }
}
