package dev.jdm.cli;

import com.typesafe.config.ConfigFactory;
import dev.jdm.daemon.ConfigProblem;
import dev.jdm.daemon.Daemon;
import dev.jdm.daemon.JdmConfig;
import dev.jdm.daemon.StartFailed;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import sun.misc.Signal;

/**
 * {@code jdm serve}: runs the daemon in the foreground until SIGTERM or SIGINT, then stops it in
 * order and exits 0. SIGHUP makes it read its configuration again ({@link Daemon#reload}).
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
    description = "Run the jdm daemon in the foreground: the devices of the configuration (without"
        + " --config, the embedded default: my_device_mapper on a sparse 128 MiB image), the"
        + " frontends and the control socket. Prints 'jdm ready' when up; SIGTERM or SIGINT stop"
        + " it cleanly. SIGHUP reads the configuration again: devices new in it are created, in"
        + " file order; every other change (a table of a running device, a device gone from the"
        + " file, a frontend setting) is logged, one line each, and not applied.")
final class ServeCommand implements Callable<Integer> {
  private static final Logger LOG = LoggerFactory.getLogger(ServeCommand.class);

  @ParentCommand
  Jdm jdm;

  @Option(names = "--config", paramLabel = "FILE",
      description = "The configuration file (HOCON); without it, the embedded default.")
  Path config;

  @Option(names = "--plugins", paramLabel = "DIR",
      description = "The target plugins directory (default: jdm.plugins-dir, the distribution's"
          + " plugins/).")
  Path plugins;

  @Option(names = "--nbd", paramLabel = "ADDR",
      description = "Serve NBD on ADDR instead of the private socket nbd.sock of the runtime"
          + " directory: a Unix socket path, or host:port (TCP: any local user can then reach"
          + " every device unless TLS is required); repeatable. Sets jdm.frontends.nbd.enabled"
          + " and .listen.")
  List<String> nbd = new ArrayList<>();

  @Option(names = "--fuse", paramLabel = "DIR",
      description = "Mount the devices as files under DIR. Sets jdm.frontends.fuse.enabled and"
          + " .mountpoint.")
  Path fuse;

  /** The command line's options as configuration keys, which win over every other source. */
  Map<String, Object> overrides() {
    Map<String, Object> o = new LinkedHashMap<>();
    if (jdm.runtimeDir != null) {
      o.put("jdm.runtime-dir", jdm.runtimeDir.toString());
    }
    if (plugins != null) {
      o.put("jdm.plugins-dir", plugins.toString());
    }
    if (!nbd.isEmpty()) {
      o.put("jdm.frontends.nbd.enabled", true);
      o.put("jdm.frontends.nbd.listen", List.copyOf(nbd));
    }
    if (fuse != null) {
      o.put("jdm.frontends.fuse.enabled", true);
      // The mount point is absolute in the configuration; here it may be relative to where we are.
      o.put("jdm.frontends.fuse.mountpoint", fuse.toAbsolutePath().normalize().toString());
    }
    return o;
  }

  @Override
  public Integer call() throws ConfigProblem, InterruptedException {
    JdmConfig c = JdmConfig.load(Optional.ofNullable(config), overrides());
    // The hook is in place before anything starts, so a signal during the start still ends in an
    // orderly stop: it waits for the start to finish, then stops what started.
    CompletableFuture<Daemon> running = new CompletableFuture<>();
    // SIGHUP would stop the JVM like SIGTERM; it reads the configuration again instead.
    try {
      Signal.handle(new Signal("HUP"), s -> reload(running.getNow(null)));
    } catch (IllegalArgumentException e) {
      LOG.warn("SIGHUP will not read the configuration again: {}", e.getMessage());
    }
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      Daemon d = running.join();
      if (d != null) {
        d.close();
        // Stopped cleanly on a signal: exit 0, not the JVM's 128+signal.
        Runtime.getRuntime().halt(0);
      }
    }, "jdm-stop"));
    Daemon daemon = null;
    try {
      daemon = Daemon.start(c);
    } catch (StartFailed e) {
      jdm.err().println("jdm: " + e.getMessage());
      return Jdm.FAILED;
    } finally {
      running.complete(daemon);
    }
    jdm.out().println(daemon.readyLine());
    Path defaultDir = Path.of(ConfigFactory.defaultReference().getString("jdm.runtime-dir"));
    String dirOption = c.runtimeDir().equals(defaultDir) ? "" : " --runtime-dir " + c.runtimeDir();
    daemon.hints(dirOption).forEach(jdm.out()::println);
    jdm.out().flush();
    new CountDownLatch(1).await();
    return 0;
  }

  /** Reads the configuration again, with the same file and command line, and applies it. */
  private void reload(Daemon daemon) {
    if (daemon == null) {
      LOG.warn("SIGHUP before the daemon is up: ignored");
      return;
    }
    LOG.info("SIGHUP: reading {} again", config == null ? "the embedded configuration" : config);
    try {
      daemon.reload(JdmConfig.load(Optional.ofNullable(config), overrides()));
    } catch (ConfigProblem e) {
      e.getMessage().lines().forEach(l -> LOG.warn("{}: nothing changed", l));
    }
  }
}
