package dev.jdm.daemon;

import dev.jdm.daemon.ControlProtocol.Reply;
import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.DmException;
import dev.jdm.kernel.MappedDevice;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's side of the control verbs: reads a request ({@link ControlProtocol}), runs it on the
 * device mapper, and words the reply as dmsetup would. Safe from many threads at once; the kernel
 * runs one verb at a time per device.
 */
final class Verbs implements Function<List<String>, Reply> {
  private static final Logger LOG = LoggerFactory.getLogger(Verbs.class);

  private final DeviceMapper mapper;
  private final Traces traces;
  private final Plugins plugins;
  private final String version;
  /** Set when the daemon stops: a {@code wait} in progress ends rather than hold the stop up. */
  private volatile boolean stopping;

  Verbs(DeviceMapper mapper, Traces traces, Plugins plugins, String version) {
    this.mapper = mapper;
    this.traces = traces;
    this.plugins = plugins;
    this.version = version;
  }

  @Override
  public Reply apply(List<String> request) {
    if (request.isEmpty() || !request.getFirst().equals(ControlProtocol.VERSION)) {
      return Reply.badRequest("jdm: the daemon speaks " + ControlProtocol.VERSION
          + ", this client another protocol: use the jdm of the same version");
    }
    if (request.size() < 2) {
      return Reply.badRequest("jdm: bad control request: no verb");
    }
    String verb = request.get(1);
    Args a = new Args(verb, request.subList(2, request.size()));
    try {
      Reply r = run(verb, a);
      if (r.exitCode() == 0 && a.logged) {
        LOG.info("{}: {}", a.first(), verb);
      }
      return r;
    } catch (DmException e) {
      return Reply.failed("jdm: " + e.getMessage());
    } catch (BadRequest e) {
      LOG.warn("control socket: {}", e.getMessage());
      return Reply.badRequest("jdm: bad control request: " + e.getMessage());
    }
  }

  private Reply run(String verb, Args a) throws DmException, BadRequest {
    return switch (verb) {
      case "create" -> {
        a.arity(2, 3);
        boolean readOnly = a.flag(1);
        plugins.buildingTables(() -> mapper.create(a.get(0), a.optional(2), readOnly));
        yield Reply.ok("");
      }
      case "load" -> {
        a.arity(2, 2).logged();
        plugins.buildingTables(() -> {
          mapper.load(a.get(0), a.get(1));
          return null;
        });
        yield Reply.ok("");
      }
      case "remove" -> {
        a.arity(2, 3);
        boolean force = a.flag(1);
        if (mapper.remove(a.get(0), force, a.optional(2) != null && a.flag(2))) {
          yield Reply.ok("");
        }
        yield new Reply(0, "", "jdm: " + a.get(0) + ": still open: "
            + (force ? "its I/O fails from now on; " : "") + "removed when its last user closes it"
            + "\n");
      }
      case "clear", "suspend", "resume" -> {
        a.arity(1, 1).logged();
        DeviceVerb v = switch (verb) {
          case "clear" -> mapper::clear;
          case "suspend" -> mapper::suspend;
          default -> mapper::resume;
        };
        v.run(a.get(0));
        yield Reply.ok("");
      }
      case "table" -> {
        a.arity(1, 2);
        yield lines(a.optional(1), a.flag(0) ? MappedDevice::inactiveTable : MappedDevice::table);
      }
      case "status" -> {
        String name = a.arity(0, 1).optional(0);
        if (name == null) {
          yield lines(null, MappedDevice::status);
        }
        MappedDevice d = mapper.get(name);
        yield Reply.ok(DmsetupText.lines(List.of(d), false, MappedDevice::status)
            + DmsetupText.counters(d.stats(), traces.of(d.name()))
            + DmsetupText.remote(mapper.remoteStatus(d.name())));
      }
      case "trace-start" -> {
        String file = a.arity(1, 3).optional(1);
        yield Reply.ok(traces.start(a.get(0), file == null ? null : a.absolutePath(1),
            a.optional(2) != null && a.flag(2)) + "\n");
      }
      case "trace-stop" -> {
        a.arity(1, 1);
        Traces.Summary s = traces.stop(a.get(0));
        String line = s.file() + ": " + s.records() + " requests, " + s.dropped() + " dropped\n";
        yield s.dropped() == 0 ? Reply.ok(line) : new Reply(0, line, "jdm: " + a.get(0) + ": "
            + s.dropped() + " requests are missing from the trace: the writer fell behind;"
            + " raise jdm.trace.buffer-records\n");
      }
      case "info" -> Reply.ok(DmsetupText.info(devices(a.arity(0, 1).optional(0))));
      case "ls" -> {
        a.arity(0, 0);
        yield Reply.ok(DmsetupText.ls(mapper.list()));
      }
      case "targets" -> {
        a.arity(0, 0);
        yield Reply.ok(DmsetupText.targets(mapper.registry().list()));
      }
      case "plugin-ls" -> {
        a.arity(0, 0);
        yield Reply.ok(plugins.list());
      }
      case "plugin-load" -> {
        String jar = a.arity(0, 1).optional(0);
        yield plugins.load(jar == null ? null : a.absolutePath(0));
      }
      case "plugin-unload" -> {
        a.arity(1, 1);
        plugins.unload(a.get(0));
        yield Reply.ok("");
      }
      case "version" -> {
        a.arity(0, 0);
        yield Reply.ok(version + "\n");
      }
      case "message" -> {
        a.arity(3, Integer.MAX_VALUE).logged();
        String out = mapper.message(a.get(0), a.number(1), a.rest(2));
        yield Reply.ok(out.isEmpty() ? "" : out + (out.endsWith("\n") ? "" : "\n"));
      }
      case "wait" -> {
        a.arity(4, 4);
        yield awaitEvent(mapper.get(a.get(0)), a.number(1), a.number(2), a.flag(3));
      }
      default -> throw new BadRequest("unknown verb '" + verb + "'");
    };
  }

  /** The daemon is stopping: {@code wait}s in progress end within a fraction of a second. */
  void stop() {
    stopping = true;
  }

  /**
   * {@code dmsetup wait}: until the device's event number is above {@code seen}, at most
   * {@code timeoutMillis} (0: no limit); with {@code verbose}, prints what {@code info} shows.
   */
  private Reply awaitEvent(MappedDevice d, long seen, long timeoutMillis, boolean verbose)
      throws DmException {
    long start = System.currentTimeMillis();
    long now = d.info().eventNumber();
    try {
      // In slices, so that a stopping daemon is noticed.
      while (now <= seen && !d.removed() && !stopping) {
        long left = timeoutMillis == 0 ? Long.MAX_VALUE
            : timeoutMillis - (System.currentTimeMillis() - start);
        if (left <= 0) {
          break;
        }
        now = d.awaitEvent(seen, Math.min(left, 250));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Reply.failed("jdm: " + d.name() + ": wait interrupted");
    }
    if (d.removed()) {
      throw new DmException(d.name() + ": No such device");
    }
    if (now <= seen && stopping) {
      return Reply.failed("jdm: " + d.name() + ": the daemon is stopping");
    }
    if (now <= seen) {
      return Reply.failed("jdm: " + d.name() + ": no event above " + seen + " within "
          + timeoutMillis + " ms (event number " + now + ")");
    }
    return Reply.ok(verbose ? DmsetupText.info(List.of(d)) : "");
  }

  private Reply lines(String name, Function<MappedDevice, String> text) throws DmException {
    return Reply.ok(DmsetupText.lines(devices(name), name == null, text));
  }

  private List<MappedDevice> devices(String name) throws DmException {
    return name == null ? mapper.list() : List.of(mapper.get(name));
  }

  /** A verb on one named device. */
  private interface DeviceVerb {
    void run(String name) throws DmException;
  }

  /** A request the client should never have sent: a bug or a foreign client, not a user error. */
  private static final class BadRequest extends Exception {
    private static final long serialVersionUID = 1L;

    BadRequest(String message) {
      super(message);
    }
  }

  /** A verb's arguments, checked as they are read. */
  private static final class Args {
    private final String verb;
    private final List<String> args;
    private boolean logged;

    Args(String verb, List<String> args) {
      this.verb = verb;
      this.args = args;
    }

    Args arity(int min, int max) throws BadRequest {
      if (args.size() < min || args.size() > max) {
        throw new BadRequest(verb + ": " + args.size() + " argument(s)");
      }
      return this;
    }

    /** Marks a verb whose success is logged (the kernel already logs create and remove). */
    Args logged() {
      logged = true;
      return this;
    }

    String get(int i) {
      return args.get(i);
    }

    /** Argument {@code i}, or null when there are fewer. */
    String optional(int i) {
      return i < args.size() ? args.get(i) : null;
    }

    String first() {
      return args.isEmpty() ? "" : args.getFirst();
    }

    List<String> rest(int from) {
      return List.copyOf(args.subList(from, args.size()));
    }

    boolean flag(int i) throws BadRequest {
      return switch (args.get(i)) {
        case "true" -> true;
        case "false" -> false;
        default -> throw new BadRequest(verb + ": '" + args.get(i) + "' is not true or false");
      };
    }

    /** Argument {@code i}, a path the client made absolute: the daemon's directory is not its. */
    Path absolutePath(int i) throws BadRequest {
      Path p = Path.of(args.get(i));
      if (!p.isAbsolute()) {
        throw new BadRequest(verb + ": '" + p + "' is not an absolute path");
      }
      return p;
    }

    long number(int i) throws BadRequest {
      try {
        return Long.parseLong(args.get(i));
      } catch (NumberFormatException e) {
        throw new BadRequest(verb + ": '" + args.get(i) + "' is not a number");
      }
    }
  }
}
