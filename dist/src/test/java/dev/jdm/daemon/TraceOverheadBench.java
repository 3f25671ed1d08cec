package dev.jdm.daemon;

import com.sun.management.OperatingSystemMXBean;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.kernel.TargetRegistry;
import dev.jdm.kernel.TraceRecorder;
import dev.jdm.spi.IoCompletion;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import java.io.RandomAccessFile;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.ToDoubleFunction;

/**
 * In-process cost of tracing, without a frontend in the way: threads submit 4 KiB random writes to
 * a linear device over a file, in runs alternating tracing off and on, and the median IOPS of each
 * side are compared. Run by {@code dist/bench/trace-overhead.sh --in-process}.
 *
 * <p>Arguments: image file (put it on /dev/shm), trace file, threads, seconds per run, run pairs.
 */
public final class TraceOverheadBench {
  private static final int BLOCK = 4096;
  private static final OperatingSystemMXBean CPU =
      (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

  private TraceOverheadBench() {}

  public static void main(String[] args) throws Exception {
    Path image = Path.of(args[0]);
    Path trace = Path.of(args[1]);
    int threads = Integer.parseInt(args[2]);
    double seconds = Double.parseDouble(args[3]);
    int pairs = Integer.parseInt(args[4]);
    long bytes = 256L << 20;
    try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
      f.setLength(bytes);
    }
    Config config = ConfigFactory.load();
    TargetRegistry registry = new TargetRegistry();
    registry.discover(TraceOverheadBench.class.getClassLoader(), "class path");
    try (DeviceMapper mapper = new DeviceMapper(registry, config)) {
      MappedDevice d = mapper.create("bench", "0 " + bytes / 512 + " linear " + image + " 0",
          false);
      Config t = config.getConfig("jdm.trace");
      run(d, threads, seconds);
      List<Run> off = new ArrayList<>();
      List<Run> on = new ArrayList<>();
      long records = 0;
      long dropped = 0;
      for (int i = 0; i < pairs; i++) {
        off.add(run(d, threads, seconds));
        TraceRecorder rec = TraceRecorder.toFile("bench", trace, t.getInt("buffer-records"),
            t.getDuration("drain-interval"));
        d.trace(rec);
        try {
          on.add(run(d, threads, seconds));
        } finally {
          d.trace(null);
          rec.close();
        }
        records += rec.recorded();
        dropped += rec.dropped();
        System.out.printf("pair %d: off %.0f IOPS %.2f us CPU/req, on %.0f IOPS %.2f us CPU/req%n",
            i + 1, off.getLast().iops, off.getLast().cpuMicrosPerRequest, on.getLast().iops,
            on.getLast().cpuMicrosPerRequest);
      }
      double iopsOff = median(off, Run::iops);
      double iopsOn = median(on, Run::iops);
      double cpuOff = median(off, Run::cpuMicrosPerRequest);
      double cpuOn = median(on, Run::cpuMicrosPerRequest);
      System.out.printf("in-process, %d threads, 4 KiB random writes on %s, medians of %d runs"
          + " of %.0f s each:%n  IOPS         off %.0f  on %.0f  overhead %.1f%%%n"
          + "  CPU us/req   off %.2f  on %.2f  overhead %.1f%%%n"
          + "  %d requests traced, %d dropped%n", threads, image.getParent(), pairs, seconds,
          iopsOff, iopsOn, (iopsOff - iopsOn) / iopsOff * 100, cpuOff, cpuOn,
          (cpuOn - cpuOff) / cpuOff * 100, records, dropped);
    } finally {
      Files.deleteIfExists(image);
      Files.deleteIfExists(trace);
    }
  }

  /** One run's requests per second, and CPU time of the whole process per request. */
  private record Run(double iops, double cpuMicrosPerRequest) {}

  /** {@code threads} threads writing 4 KiB at random places for {@code seconds}. */
  private static Run run(MappedDevice d, int threads, double seconds) throws Exception {
    long cpu0 = CPU.getProcessCpuTime();
    LongAdder done = new LongAdder();
    long blocks = d.sizeInBytes() / BLOCK;
    long end = System.nanoTime() + (long) (seconds * 1e9);
    List<Thread> workers = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      SplittableRandom rnd = new SplittableRandom(i);
      workers.add(Thread.ofPlatform().start(() -> {
        ByteBuffer buf = ByteBuffer.allocateDirect(BLOCK);
        IoRequest r = new IoRequest();
        IoCompletion ignore = req -> { };
        long n = 0;
        while (System.nanoTime() < end) {
          // The file device completes on this thread, before submit returns.
          d.submit(r.prepare(IoOp.WRITE, 0, rnd.nextLong(blocks) * (BLOCK / 512), BLOCK, buf, 0,
              ignore));
          n++;
        }
        done.add(n);
      }));
    }
    for (Thread w : workers) {
      w.join();
    }
    long cpu = CPU.getProcessCpuTime() - cpu0;
    return new Run(done.sum() / seconds, cpu / 1000.0 / done.sum());
  }

  private static double median(List<Run> runs, ToDoubleFunction<Run> f) {
    double[] a = runs.stream().mapToDouble(f).toArray();
    Arrays.sort(a);
    return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
  }
}
