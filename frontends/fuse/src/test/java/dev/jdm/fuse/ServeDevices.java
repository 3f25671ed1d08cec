package dev.jdm.fuse;

import com.typesafe.config.ConfigFactory;
import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.Frontend;
import dev.jdm.kernel.TargetRegistry;
import java.util.concurrent.CountDownLatch;

/**
 * Serves devices over FUSE until SIGTERM, for the shutdown tests and for the benchmark script
 * until the daemon ({@code jdm serve}) is available: {@code ServeDevices MOUNTPOINT NAME=TABLE...}.
 * Prints {@code ready} on stdout once mounted.
 */
public final class ServeDevices {
  private ServeDevices() {}

  public static void main(String[] args) throws Exception {
    TargetRegistry registry = new TargetRegistry();
    registry.discover(ServeDevices.class.getClassLoader(), "class path");
    DeviceMapper mapper = new DeviceMapper(registry);
    for (int i = 1; i < args.length; i++) {
      int eq = args[i].indexOf('=');
      mapper.create(args[i].substring(0, eq), args[i].substring(eq + 1), false);
    }
    Frontend fuse = new FuseFrontendProvider().start(mapper, ConfigFactory.parseString(
        "jdm.frontends.fuse { enabled = true, mountpoint = \"" + args[0] + "\" }")
        .withFallback(ConfigFactory.load())).orElseThrow();
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      fuse.close();
      mapper.close();
      stopped.countDown();
    }));
    System.out.println("ready " + fuse.describe());
    System.out.flush();
    stopped.await();
  }
}
