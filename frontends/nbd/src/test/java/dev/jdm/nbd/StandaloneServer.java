package dev.jdm.nbd;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.Frontend;
import dev.jdm.kernel.TargetRegistry;
import java.util.concurrent.CountDownLatch;

/**
 * Runs the NBD server over devices given on the command line, for trying clients by hand and for
 * {@code dist/bench/nbd-vs-nbdkit.sh} when the {@code jdm} launcher is not built. Arguments:
 * {@code LISTEN NAME=TABLE...}, e.g. {@code unix:/tmp/s.sock disk='0 2097152 linear /dev/shm/f 0'}.
 * Config overrides come from system properties ({@code -Djdm.frontends.nbd.threads-per-connection=1}).
 */
public final class StandaloneServer {
  private StandaloneServer() {}

  public static void main(String[] args) throws Exception {
    TargetRegistry registry = new TargetRegistry();
    registry.discover(StandaloneServer.class.getClassLoader(), "class path");
    Config config = ConfigFactory.systemProperties()
        .withFallback(ConfigFactory.parseString("jdm.frontends.nbd.listen = [\"" + args[0] + "\"]"))
        .withFallback(ConfigFactory.defaultReference());
    DeviceMapper mapper = new DeviceMapper(registry, config);
    for (int i = 1; i < args.length; i++) {
      int eq = args[i].indexOf('=');
      mapper.create(args[i].substring(0, eq), args[i].substring(eq + 1), false);
    }
    Frontend nbd = new NbdFrontendProvider().start(mapper, config).orElseThrow();
    System.out.println("ready: " + nbd.describe());
    CountDownLatch stop = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      nbd.close();
      mapper.close();
      stop.countDown();
    }));
    stop.await();
  }
}
