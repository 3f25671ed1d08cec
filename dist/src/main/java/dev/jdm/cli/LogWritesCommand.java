package dev.jdm.cli;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code jdm log-writes replay}: a log of the {@code log-writes} target written back onto a device,
 * to a limit or a mark, with a check run at each flush, FUA or mark on the way. Needs no daemon.
 */
@Command(name = "log-writes", mixinStandardHelpOptions = true,
    description = "Work with the logs of the log-writes target.")
final class LogWritesCommand {
  @ParentCommand
  Jdm jdm;

  @Command(name = "replay", mixinStandardHelpOptions = true,
      description = "Write the entries of the log LOG_DEV onto DEV in order, as the kernel's"
          + " replay-log does: data entries are written, discards zero their range. Prints a line"
          + " per check and one at the end. Exits 1 when a check fails (DEV is left as it was at"
          + " that entry, the check's output goes to standard error) or the log cannot be read."
          + " Needs no daemon.")
  int replay(
      @Parameters(index = "0", paramLabel = "LOG_DEV",
          description = "The log: the log-writes target's <log_dev_path>.") Path logDev,
      @Parameters(index = "1", paramLabel = "DEV",
          description = "The file or block device to replay onto.") Path dev,
      @Option(names = "--limit", paramLabel = "N",
          description = "Stop after N entries.") Long limit,
      @Option(names = "--start-mark", paramLabel = "MARK",
          description = "Start after the mark MARK, writing nothing before it: DEV already holds"
              + " what the log says up to it (from a replay with --end-mark MARK).")
          String startMark,
      @Option(names = "--end-mark", paramLabel = "MARK",
          description = "Stop after the mark MARK ('jdm message NAME 0 mark MARK').")
          String endMark,
      @Option(names = "--check", paramLabel = "CMD",
          description = "A command run with 'sh -c' at each point --check-every names; the"
              + " replay stops when it fails.") String check,
      @Option(names = "--check-every", paramLabel = "flush|fua|mark",
          description = "After which entries to run --check: those with the FLUSH flag, the FUA"
              + " flag, or marks.") String every) throws IOException, InterruptedException {
    if ((check == null) != (every == null)) {
      throw new Jdm.UsageError("--check and --check-every go together");
    }
    if (limit != null && limit < 1) {
      throw new Jdm.UsageError("--limit must be at least 1");
    }
    long checkFlag = every == null ? 0 : switch (every.toLowerCase(Locale.ROOT)) {
      case "flush" -> LogReplay.FLUSH;
      case "fua" -> LogReplay.FUA;
      case "mark" -> LogReplay.MARK;
      default -> throw new Jdm.UsageError("--check-every is flush, fua or mark, not '" + every
          + "'");
    };
    long start = startMark == null ? 0 : findMark(logDev, startMark, 0) + 1;
    if (endMark != null) {
      findMark(logDev, endMark, start);
    }
    long replayed = 0;
    long checks = 0;
    try (LogReplay log = LogReplay.open(logDev, dev)) {
      log.skip(start);
      for (LogReplay.Entry e; (e = log.next()) != null; ) {
        replayed++;
        if (checkFlag != 0 && e.has(checkFlag)) {
          log.sync();
          checks++;
          Process p = new ProcessBuilder(List.of("sh", "-c", check)).redirectErrorStream(true)
              .start();
          byte[] said = p.getInputStream().readAllBytes();
          int exit = p.waitFor();
          String where = "entry " + e.index() + " (" + e.flagNames()
              + (e.mark() != null ? " " + e.mark() : "") + ")";
          if (exit != 0) {
            jdm.err().write(said);
            jdm.out().println(where + ": check failed, exit status " + exit);
            jdm.out().println("replayed " + replayed + " of " + log.entries() + " entries; check "
                + checks + " failed");
            return Jdm.FAILED;
          }
          jdm.out().println(where + ": check passed");
        }
        if ((limit != null && replayed == limit)
            || (endMark != null && e.has(LogReplay.MARK) && endMark.equals(e.mark()))) {
          break;
        }
      }
      log.sync();
      jdm.out().println("replayed " + replayed + " of " + log.entries() + " entries"
          + (checkFlag != 0 ? "; " + checks + " checks passed" : ""));
      return 0;
    } catch (NoSuchFileException e) {
      throw new IOException(e.getFile() + ": No such file", e);
    }
  }

  /**
   * The index of the first mark {@code mark} from entry {@code from} on; fails before anything is
   * written when the log has none.
   */
  private static long findMark(Path logDev, String mark, long from) throws IOException {
    try (LogReplay log = LogReplay.open(logDev, null)) {
      log.skip(from);
      for (LogReplay.Entry e; (e = log.next()) != null; ) {
        if (e.has(LogReplay.MARK) && mark.equals(e.mark())) {
          return e.index();
        }
      }
    } catch (NoSuchFileException e) {
      throw new IOException(e.getFile() + ": No such file", e);
    }
    throw new IOException(logDev + ": no mark '" + mark + "' in the log");
  }
}
