package dev.jdm.cli;

import dev.jdm.daemon.ControlProtocol.Reply;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code jdm snapshot NAME ORIGIN --cow FILE} and {@code jdm snapshot merge NAME}: the device
 * stacks LVM's {@code lvcreate -s} and {@code lvconvert --merge} build, made of the dmsetup verbs
 * a running daemon already has. Prints each table it created or loaded as {@code name: line}, as
 * {@code dmsetup table} prints every device's.
 */
@Command(name = "snapshot", mixinStandardHelpOptions = true,
    description = {"Take a snapshot of device ORIGIN as device NAME, as 'lvcreate -s' does: the"
        + " origin's table moves to a device ORIGIN-real, ORIGIN becomes a snapshot-origin of it,"
        + " and NAME a snapshot of it keeping its copied chunks in FILE (persistent, the kernel's"
        + " format). The origin is suspended meanwhile. Another snapshot of the same origin joins"
        + " the existing ORIGIN-real. 'jdm snapshot merge NAME' merges one back.",
        "Prints the tables it made, one 'name: line' each."},
    subcommands = SnapshotCommand.Merge.class)
final class SnapshotCommand implements Callable<Integer> {
  /** How often the merge's status is read while waiting for it. */
  private static final long POLL_MILLIS = 200;

  @ParentCommand
  Jdm jdm;

  @Parameters(index = "0", arity = "0..1", paramLabel = "NAME",
      description = "The snapshot device to create.")
  String name;

  @Parameters(index = "1", arity = "0..1", paramLabel = "ORIGIN",
      description = "The device to take a snapshot of.")
  String origin;

  @Option(names = "--cow", paramLabel = "FILE",
      description = "The COW file: where chunks changed since the snapshot are kept. Its first"
          + " chunk is zeroed.")
  Path cow;

  @Option(names = "--size", paramLabel = "SIZE",
      description = "Make FILE this long first: bytes, or with K, M, G or T (powers of 1024)."
          + " Without it FILE must exist.")
  String size;

  @Option(names = "--chunk", paramLabel = "SECTORS", defaultValue = "8",
      description = "The chunk size in 512-byte sectors, a power of two up to 2048 (default:"
          + " ${DEFAULT-VALUE}, 4 KiB, as LVM).")
  long chunk;

  @Override
  public Integer call() throws IOException {
    if (name == null || origin == null || cow == null) {
      throw new Jdm.UsageError("give NAME, ORIGIN and --cow FILE");
    }
    Steps steps = new Steps();
    try {
      List<String> table = table(origin);
      long sectors = sectors(table);
      List<String> words = words(table.getFirst());
      boolean fresh = !(table.size() == 1 && words.get(2).equals("snapshot-origin"));
      if (table.stream().anyMatch(l -> words(l).get(2).equals("snapshot-merge"))) {
        throw new Failed(origin + ": a snapshot of it is being merged");
      }
      String realName = origin + "-real";
      String real = fresh ? "/dev/mapper/" + realName : words.get(3);
      Path file = cow.toAbsolutePath().normalize();
      prepareCow(file);
      String snapshot = "0 " + sectors + " snapshot " + real + " " + file + " P " + chunk;
      String originLine = "0 " + sectors + " snapshot-origin " + real;
      // As LVM: the origin holds still while the snapshot goes live under it.
      steps.run("suspend", origin);
      steps.undo("resume", origin);
      if (fresh) {
        steps.run("create", realName, "false", String.join("\n", table));
        steps.undo("remove", realName, "false");
      }
      steps.run("create", name, "false", snapshot);
      steps.undo("remove", name, "false");
      if (fresh) {
        steps.run("load", origin, originLine);
        steps.undo("clear", origin);
      }
      steps.run("resume", origin);
      steps.done();
      if (fresh) {
        table.forEach(l -> print(realName, l));
      }
      print(name, snapshot);
      print(origin, fresh ? originLine : table.getFirst());
      return 0;
    } catch (Failed f) {
      return steps.undo(f);
    }
  }

  /** Makes the COW file as long as --size says and zeroes its first chunk, as lvcreate does. */
  private void prepareCow(Path file) throws Failed, IOException {
    if (size == null && !Files.exists(file)) {
      throw new Failed(file + ": No such file (give --size to create it)");
    }
    if (chunk <= 0 || Long.bitCount(chunk) != 1 || chunk > 2048) {
      throw new Jdm.UsageError("--chunk must be a power of two from 1 to 2048");
    }
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      if (size != null) {
        f.setLength(bytes(size));
      }
      if (f.length() < 2 * chunk * 512) {
        throw new Failed(file + ": too small for a header and a metadata chunk");
      }
      f.write(new byte[Math.toIntExact(chunk * 512)]);
    }
  }

  /** {@code 256M} and the like in bytes. */
  private static long bytes(String text) {
    String t = text.strip().toUpperCase(Locale.ROOT);
    int shift = switch (t.isEmpty() ? ' ' : t.charAt(t.length() - 1)) {
      case 'K' -> 10;
      case 'M' -> 20;
      case 'G' -> 30;
      case 'T' -> 40;
      default -> 0;
    };
    try {
      return Long.parseLong(shift == 0 ? t : t.substring(0, t.length() - 1)) << shift;
    } catch (NumberFormatException e) {
      throw new Jdm.UsageError("--size: '" + text + "' is not a size");
    }
  }

  /** {@code jdm snapshot merge NAME}, as {@code lvconvert --merge}. */
  @Command(name = "merge", mixinStandardHelpOptions = true,
      description = {"Merge snapshot NAME back into its origin, as 'lvconvert --merge' does: NAME"
          + " is removed and the origin becomes a snapshot-merge of ORIGIN-real and the COW file,"
          + " which copies the snapshot's chunks back while the origin stays in use (it reads"
          + " as the snapshot at once). When the copying is done, the origin gets its own table"
          + " back (or stays a snapshot-origin while it has other snapshots) and an unused"
          + " ORIGIN-real is removed.",
          "Prints each table it loaded, one 'name: line' each."})
  static final class Merge implements Callable<Integer> {
    @ParentCommand
    SnapshotCommand parent;

    @Parameters(paramLabel = "NAME", description = "The snapshot device.")
    String name;

    @Override
    public Integer call() throws IOException {
      return parent.merge(name);
    }
  }

  int merge(String snapshotName) throws IOException {
    Steps steps = new Steps();
    try {
      List<String> table = table(snapshotName);
      List<String> w = words(table.getFirst());
      if (table.size() != 1 || !w.get(2).equals("snapshot") || w.size() < 7) {
        throw new Failed(snapshotName + ": not a snapshot");
      }
      long sectors = Long.parseLong(w.get(1));
      String real = w.get(3);
      String originName = originOf(real);
      String mergeLine = "0 " + sectors + " snapshot-merge "
          + String.join(" ", w.subList(3, w.size()));
      steps.run("suspend", originName);
      steps.undo("resume", originName);
      steps.run("remove", snapshotName, "false");
      steps.undo("create", snapshotName, "false", table.getFirst());
      steps.run("load", originName, mergeLine);
      steps.undo("clear", originName);
      steps.run("resume", originName);
      steps.done();
      print(originName, mergeLine);
      awaitMerged(originName);
      // The merge is done: the origin gets its own table again.
      String realName = real.startsWith("/dev/mapper/") ? real.substring(12) : null;
      boolean others = allTables().stream().anyMatch(l -> {
        List<String> x = words(l.substring(l.indexOf(": ") + 2));
        return x.size() > 3 && x.get(2).equals("snapshot") && x.get(3).equals(real);
      });
      List<String> own = others || realName == null
          ? List.of("0 " + sectors + " snapshot-origin " + real) : table(realName);
      steps.run("suspend", originName);
      steps.undo("resume", originName);
      steps.run("load", originName, String.join("\n", own));
      steps.undo("clear", originName);
      steps.run("resume", originName);
      steps.done();
      own.forEach(l -> print(originName, l));
      if (!others && realName != null && realName.equals(originName + "-real")) {
        steps.run("remove", realName, "false");
      }
      return 0;
    } catch (Failed f) {
      return steps.undo(f);
    }
  }

  /** The device whose table is a snapshot-origin of {@code real}. */
  private String originOf(String real) throws IOException, Failed {
    for (String l : allTables()) {
      int colon = l.indexOf(": ");
      List<String> w = words(l.substring(colon + 2));
      if (w.size() == 4 && w.get(2).equals("snapshot-origin") && w.get(3).equals(real)) {
        return l.substring(0, colon);
      }
    }
    throw new Failed(real + ": no device is a snapshot-origin of it");
  }

  /** Polls the origin's status until the merge is done; fails when it failed. */
  private void awaitMerged(String originName) throws IOException, Failed {
    while (true) {
      List<String> w = words(ok("status", originName).lines().findFirst().orElse(""));
      String state = String.join(" ", w.subList(Math.min(3, w.size()), w.size()));
      if (w.size() == 5 && w.get(3).contains("/")) {
        long allocated = Long.parseLong(w.get(3).substring(0, w.get(3).indexOf('/')));
        if (allocated == Long.parseLong(w.get(4))) {
          return;
        }
      } else {
        throw new Failed(originName + ": merge stopped: " + state);
      }
      try {
        Thread.sleep(POLL_MILLIS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new Failed(originName + ": interrupted while merging");
      }
    }
  }

  private List<String> table(String device) throws IOException, Failed {
    List<String> lines = ok("table", "false", device).lines().filter(l -> !l.isBlank()).toList();
    if (lines.isEmpty()) {
      throw new Failed(device + ": no table");
    }
    return lines;
  }

  /** Every device's table lines, each as {@code name: line}. */
  private List<String> allTables() throws IOException, Failed {
    return ok("table", "false").lines().filter(l -> l.contains(": ")).toList();
  }

  private static long sectors(List<String> table) {
    List<String> w = words(table.getLast());
    return Long.parseLong(w.get(0)) + Long.parseLong(w.get(1));
  }

  private static List<String> words(String line) {
    return Arrays.asList(line.strip().split("\\s+"));
  }

  private void print(String device, String line) {
    jdm.out().println(device + ": " + line);
  }

  private String ok(String verb, String... args) throws IOException, Failed {
    Reply r = ControlClient.call(jdm.runtimeDir(), verb, List.of(args));
    if (r.exitCode() != 0) {
      throw new Failed(r);
    }
    return r.out();
  }

  /** The verbs sent so far, and how to take them back when a later one fails. */
  private final class Steps {
    private final Deque<List<String>> undo = new ArrayDeque<>();

    void run(String verb, String... args) throws IOException, Failed {
      ok(verb, args);
    }

    /** What takes the last step back, run (newest first) when a later step fails. */
    void undo(String verb, String... args) {
      List<String> call = new ArrayList<>(List.of(verb));
      call.addAll(List.of(args));
      undo.push(call);
    }

    /** The steps so far stand. */
    void done() {
      undo.clear();
    }

    /** Takes back what it can, says why it stopped; returns the exit code. */
    int undo(Failed f) throws IOException {
      while (!undo.isEmpty()) {
        List<String> call = undo.pop();
        ControlClient.call(jdm.runtimeDir(), call.getFirst(), call.subList(1, call.size()));
      }
      jdm.err().print(f.reply.err());
      jdm.err().flush();
      return f.reply.exitCode();
    }
  }

  /** A step failed: the daemon's reply, or one line of ours. */
  private static final class Failed extends Exception {
    private static final long serialVersionUID = 1L;
    final transient Reply reply;

    Failed(Reply reply) {
      super(reply.err());
      this.reply = reply;
    }

    Failed(String line) {
      this(Reply.failed("jdm: " + line));
    }
  }
}
