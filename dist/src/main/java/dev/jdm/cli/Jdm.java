package dev.jdm.cli;

import dev.jdm.daemon.ConfigProblem;
import dev.jdm.daemon.ControlProtocol;
import dev.jdm.daemon.ControlProtocol.Reply;
import dev.jdm.daemon.JdmConfig;
import dev.jdm.daemon.JdmVersion;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ScopeType;

/**
 * The {@code jdm} command: {@code serve} runs the daemon; the other verbs are dmsetup's, sent to a
 * running daemon over its control socket. Exit codes: 0 done, 1 the operation failed (one line on
 * standard error says why), 2 wrong usage.
 */
@Command(name = "jdm", mixinStandardHelpOptions = true, versionProvider = Jdm.Version.class,
    subcommands = {ServeCommand.class, TraceCommand.class, PluginCommand.class,
        SnapshotCommand.class, LogWritesCommand.class, LuksCommand.class},
    description = "The Linux device-mapper in user space. 'jdm serve' runs the daemon; the other"
        + " commands are dmsetup's, talking to it.")
public final class Jdm implements Callable<Integer> {
  static final int FAILED = 1;
  static final int USAGE = 2;

  @Option(names = "--runtime-dir", paramLabel = "DIR", scope = ScopeType.INHERIT,
      description = "The daemon's runtime directory, holding its control socket (default:"
          + " $JDM_RUNTIME_DIR, else jdm.runtime-dir of the configuration, /run/jdm).")
  Path runtimeDir;

  private final InputStream in;
  private final PrintStream out;
  private final PrintStream err;

  Jdm(InputStream in, PrintStream out, PrintStream err) {
    this.in = in;
    this.out = out;
    this.err = err;
  }

  PrintStream out() {
    return out;
  }

  InputStream in() {
    return in;
  }

  PrintStream err() {
    return err;
  }

  public static void main(String[] args) {
    System.exit(run(args, System.in, System.out, System.err));
  }

  /** Runs the command line {@code args}; returns the exit code. */
  static int run(String[] args, InputStream in, PrintStream out, PrintStream err) {
    CommandLine cl = new CommandLine(new Jdm(in, out, err));
    // Wide enough that config keys such as jdm.runtime-dir are not broken at their dots.
    cl.setUsageHelpWidth(100);
    cl.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
    cl.setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
    cl.setExecutionExceptionHandler((e, sub, parsed) -> {
      if (e instanceof UsageError) {
        String verb = sub.getCommandSpec().qualifiedName();
        sub.getErr().println(verb + ": " + e.getMessage());
        sub.getErr().println("Try '" + verb + " --help'.");
        return USAGE;
      }
      if (e instanceof IOException || e instanceof ConfigProblem) {
        e.getMessage().lines().forEach(l -> sub.getErr().println("jdm: " + l));
        return FAILED;
      }
      throw e;
    });
    return cl.execute(args);
  }

  /** {@code jdm} alone: usage, as for any other wrong call. */
  @Override
  public Integer call() {
    new CommandLine(this).usage(err);
    return USAGE;
  }

  @Command(name = "create", mixinStandardHelpOptions = true,
      description = "Create device NAME with the table from --table, FILE, or standard input"
          + " (as 'dmsetup create').")
  int create(
      @Parameters(index = "0", paramLabel = "NAME", description = "The device's name.") String name,
      @Parameters(index = "1", arity = "0..1", paramLabel = "FILE",
          description = "A file holding the table; - or absent: standard input.") String file,
      @Option(names = "--table", paramLabel = "LINE",
          description = "A table line; repeat for more lines.") List<String> table,
      @Option(names = "--notable", description = "Create the device without a table.")
          boolean noTable,
      @Option(names = {"-r", "--readonly"}, description = "Make the device read-only.")
          boolean readOnly) throws IOException {
    List<String> args = new ArrayList<>(List.of(name, Boolean.toString(readOnly)));
    if (noTable) {
      if (table != null || file != null) {
        throw new UsageError("--notable takes neither --table nor FILE");
      }
    } else {
      args.add(tableText(table, file));
    }
    return send("create", args);
  }

  @Command(name = "load", aliases = "reload", mixinStandardHelpOptions = true,
      description = "Load a table into the inactive slot of device NAME; 'resume' makes it live"
          + " (as 'dmsetup load').")
  int load(
      @Parameters(index = "0", paramLabel = "NAME", description = "The device's name.") String name,
      @Parameters(index = "1", arity = "0..1", paramLabel = "FILE",
          description = "A file holding the table; - or absent: standard input.") String file,
      @Option(names = "--table", paramLabel = "LINE",
          description = "A table line; repeat for more lines.") List<String> table)
      throws IOException {
    return send("load", List.of(name, tableText(table, file)));
  }

  @Command(name = "remove", mixinStandardHelpOptions = true,
      description = "Remove device NAME (as 'dmsetup remove'). A device that is open (by a FUSE"
          + " open of its file or a loop device over it, an NBD client, another device's table:"
          + " 'jdm info' shows the open count) is refused with 'Device or resource busy'.")
  int remove(
      @Parameters(paramLabel = "NAME", description = "The device's name.") String name,
      @Option(names = {"-f", "--force"},
          description = "If it is open, make all its I/O fail at once and remove it when its"
              + " last user closes it; if not, remove it even when its I/O does not drain.")
          boolean force,
      @Option(names = "--deferred",
          description = "If it is open, remove it when its last user closes it; it works until"
              + " then.") boolean deferred) throws IOException {
    return send("remove", List.of(name, Boolean.toString(force), Boolean.toString(deferred)));
  }

  @Command(name = "clear", mixinStandardHelpOptions = true,
      description = "Drop the inactive table of device NAME.")
  int clear(@Parameters(paramLabel = "NAME", description = "The device's name.") String name)
      throws IOException {
    return send("clear", List.of(name));
  }

  @Command(name = "suspend", mixinStandardHelpOptions = true,
      description = "Suspend device NAME: finish its I/O in flight, hold new I/O back.")
  int suspend(@Parameters(paramLabel = "NAME", description = "The device's name.") String name)
      throws IOException {
    return send("suspend", List.of(name));
  }

  @Command(name = "resume", mixinStandardHelpOptions = true,
      description = "Resume device NAME, making a loaded table live first.")
  int resume(@Parameters(paramLabel = "NAME", description = "The device's name.") String name)
      throws IOException {
    return send("resume", List.of(name));
  }

  @Command(name = "table", mixinStandardHelpOptions = true,
      description = "Print the table of device NAME, or of every device prefixed with its name."
          + " 'jdm create' accepts the lines back.")
  int table(
      @Parameters(arity = "0..1", paramLabel = "NAME", description = "The device's name.")
          String name,
      @Option(names = "--inactive", description = "The inactive table instead of the live one.")
          boolean inactive,
      @Option(names = "--showkeys", description = "Show the keys of crypt targets; without it they"
          + " are shown as zeros, as dmsetup does.") boolean showKeys) throws IOException {
    List<String> args = new ArrayList<>(List.of(Boolean.toString(inactive)));
    Optional.ofNullable(name).ifPresent(args::add);
    Reply r = ControlClient.call(runtimeDir(), "table", args);
    return print(showKeys ? r : new Reply(r.exitCode(), CryptKeys.hide(r.out()), r.err()));
  }

  @Command(name = "status", mixinStandardHelpOptions = true,
      description = "Print the targets' status lines of device NAME, or of every device. With"
          + " NAME, two more lines: 'stats:' counters since the device was created (reads,"
          + " writes, bytes, errors, in flight, latency p50/p99 in microseconds, upper edges of"
          + " power-of-two buckets) and 'trace:' (off, or on with its file and counts).")
  int status(@Parameters(arity = "0..1", paramLabel = "NAME", description = "The device's name.")
      String name) throws IOException {
    return send("status", Optional.ofNullable(name).stream().toList());
  }

  @Command(name = "info", mixinStandardHelpOptions = true,
      description = "Print what 'dmsetup info' shows of device NAME, or of every device.")
  int info(@Parameters(arity = "0..1", paramLabel = "NAME", description = "The device's name.")
      String name) throws IOException {
    return send("info", Optional.ofNullable(name).stream().toList());
  }

  @Command(name = "ls", mixinStandardHelpOptions = true,
      description = "List the devices: name and (major:minor).")
  int ls() throws IOException {
    return send("ls", List.of());
  }

  @Command(name = "targets", mixinStandardHelpOptions = true,
      description = "List the target types the daemon knows, with their versions.")
  int targets() throws IOException {
    return send("targets", List.of());
  }

  @Command(name = "message", mixinStandardHelpOptions = true,
      description = "Send a message to the target of device NAME that holds SECTOR.")
  int message(
      @Parameters(index = "0", paramLabel = "NAME", description = "The device's name.") String name,
      @Parameters(index = "1", paramLabel = "SECTOR",
          description = "A sector inside the target's segment.") long sector,
      @Parameters(index = "2..*", arity = "1..*", paramLabel = "WORDS",
          description = "The message.") List<String> words) throws IOException {
    List<String> args = new ArrayList<>(List.of(name, Long.toString(sector)));
    args.addAll(words);
    return send("message", args);
  }

  @Command(name = "wait", mixinStandardHelpOptions = true,
      description = "Wait until the event number of device NAME is above EVENT_NR (as 'dmsetup"
          + " wait'): a table went live, or a target raised an event (a leg failed, a resync"
          + " ended). EVENT_NR defaults to 0, as dmsetup's; to wait for the next event, pass the"
          + " 'Event number' that 'jdm info' shows. Prints nothing unless -v.")
  int await(
      @Parameters(index = "0", paramLabel = "NAME", description = "The device's name.") String name,
      @Parameters(index = "1", arity = "0..1", paramLabel = "EVENT_NR", defaultValue = "0",
          description = "The event number to wait past (default: 0).") long eventNr,
      @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "0",
          description = "Give up after this long (exit 1); 0, the default: wait as long as it"
              + " takes.") double timeout,
      @Option(names = {"-v", "--verbose"}, description = "Then print what 'jdm info NAME' shows.")
          boolean verbose) throws IOException {
    if (eventNr < 0 || !(timeout >= 0)) {
      throw new UsageError("EVENT_NR and --timeout must not be negative");
    }
    return send("wait", List.of(name, Long.toString(eventNr),
        Long.toString(Math.round(Math.ceil(timeout * 1000))), Boolean.toString(verbose)));
  }

  @Command(name = "version", mixinStandardHelpOptions = true,
      description = "Print the versions of this jdm and of the running daemon.")
  int version() throws IOException {
    out.printf("%-19s%s%n", "jdm version:", JdmVersion.get());
    Reply r = ControlClient.call(runtimeDir(), "version", List.of());
    return print(r.exitCode() == 0 ? Reply.ok(String.format("%-19s%s", "Daemon version:", r.out()))
        : r);
  }

  /** Sends a verb to the daemon and prints its reply; returns the exit code. */
  int send(String verb, List<String> args) throws IOException {
    return print(ControlClient.call(runtimeDir(), verb, args));
  }

  private int print(Reply r) {
    out.print(r.out());
    out.flush();
    err.print(r.err());
    err.flush();
    return r.exitCode();
  }

  /** --runtime-dir, else the configuration's (where JDM_RUNTIME_DIR wins). */
  Path runtimeDir() throws IOException {
    if (runtimeDir != null) {
      return runtimeDir;
    }
    try {
      return JdmConfig.load(Optional.empty(), Map.of()).runtimeDir();
    } catch (ConfigProblem e) {
      throw new IOException(e.getMessage(), e);
    }
  }

  /** The table given by --table lines, a file, or standard input, as dmsetup takes it. */
  private String tableText(List<String> lines, String file) throws IOException {
    if (lines != null) {
      if (file != null) {
        throw new UsageError("give the table with --table or FILE, not both");
      }
      return String.join("\n", lines);
    }
    if (file == null || file.equals("-")) {
      return limited(in, "standard input");
    }
    try (InputStream f = Files.newInputStream(Path.of(file))) {
      return limited(f, file);
    } catch (NoSuchFileException e) {
      throw new IOException(file + ": No such file");
    }
  }

  /** Reads a table, refusing one longer than a control request may carry. */
  private static String limited(InputStream from, String name) throws IOException {
    byte[] b = from.readNBytes(ControlProtocol.MAX_BYTES + 1);
    if (b.length > ControlProtocol.MAX_BYTES) {
      throw new IOException(name + ": more than " + (ControlProtocol.MAX_BYTES >> 20)
          + " MiB: too long for a table (is it one?)");
    }
    return new String(b, StandardCharsets.UTF_8);
  }

  /** Wrong usage found after parsing: exit 2. */
  static final class UsageError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UsageError(String message) {
      super(message);
    }
  }

  /** {@code --version}: jdm's version. */
  static final class Version implements IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"jdm " + JdmVersion.get()};
    }
  }
}
