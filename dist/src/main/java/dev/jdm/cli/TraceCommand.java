package dev.jdm.cli;

import com.typesafe.config.Config;
import dev.jdm.daemon.ConfigProblem;
import dev.jdm.daemon.JdmConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code jdm trace start|stop|plot}: the seed article's bio log, for any device, switched on and
 * off while it runs, and its figure drawn from the log.
 */
@Command(name = "trace", mixinStandardHelpOptions = true,
    description = "Record every request a device completes into a CSV file"
        + " (time_ns,op,sector,bytes,latency_us,result), and plot such a file.")
final class TraceCommand {
  @ParentCommand
  Jdm jdm;

  @Command(name = "start", mixinStandardHelpOptions = true,
      description = "Start recording the requests of device NAME. Prints the trace file's path."
          + " Recording never makes I/O wait: if the file cannot keep up, requests are left out"
          + " and counted ('trace stop' and 'status NAME' say how many).")
  int start(
      @Parameters(paramLabel = "NAME", description = "The device's name.") String name,
      @Option(names = {"-o", "--output"}, paramLabel = "FILE",
          description = "Where to write: a new file, created 0600 (an existing one is refused"
              + " without --force; a symbolic link always is); default: a new file in"
              + " jdm.trace.dir, the state dir's traces/.") Path output,
      @Option(names = "--force", description = "Overwrite FILE if it exists (a regular file).")
          boolean force) throws IOException {
    if (force && output == null) {
      throw new Jdm.UsageError("--force goes with --output");
    }
    List<String> args = new ArrayList<>(List.of(name));
    // The daemon runs elsewhere: send it a path that does not depend on our directory.
    Optional.ofNullable(output).ifPresent(o -> {
      args.add(o.toAbsolutePath().normalize().toString());
      args.add(Boolean.toString(force));
    });
    return jdm.send("trace-start", args);
  }

  @Command(name = "stop", mixinStandardHelpOptions = true,
      description = "Stop recording device NAME and close the file. Prints the file, how many"
          + " requests it holds and how many were dropped.")
  int stop(@Parameters(paramLabel = "NAME", description = "The device's name.") String name)
      throws IOException {
    return jdm.send("trace-stop", List.of(name));
  }

  @Command(name = "plot", mixinStandardHelpOptions = true,
      description = "Draw a trace file: start sector over time, one colour per op (the seed's"
          + " figure); below it the request sizes and the latency p50/p99 over time. Needs no"
          + " daemon and no display.")
  int plot(
      @Parameters(paramLabel = "FILE", description = "A trace file from 'jdm trace start'.")
          Path file,
      @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT",
          description = "The picture: OUT.png or OUT.svg.") Path out,
      @Option(names = "--sectors", paramLabel = "FROM:TO",
          description = "Only requests starting at sector FROM (included) up to TO (excluded);"
              + " either may be left out.") String sectors,
      @Option(names = "--ops", paramLabel = "OP[,OP...]",
          description = "Which ops to draw: read, write, flush, discard, write_zeroes"
              + " (default: read,write).") String ops,
      @Option(names = "--width", paramLabel = "PIXELS",
          description = "Default: jdm.trace.plot.width.") Integer width,
      @Option(names = "--height", paramLabel = "PIXELS",
          description = "Default: jdm.trace.plot.height.") Integer height,
      @Option(names = "--title", paramLabel = "TEXT",
          description = "Names the trace in the top panel; default: the file's name.") String title)
      throws IOException, ConfigProblem {
    Config plot = JdmConfig.load(Optional.empty(), Map.of()).config().getConfig("jdm.trace.plot");
    int w = width != null ? width : plot.getInt("width");
    int h = height != null ? height : plot.getInt("height");
    TraceLog.Filter filter;
    try {
      filter = TraceLog.Filter.parse(sectors, ops);
      TracePlot.checkOutput(out, w, h);
    } catch (IllegalArgumentException e) {
      throw new Jdm.UsageError(e.getMessage());
    }
    TraceLog log;
    try (ProgressBar bar = ProgressBar.open("reading " + file.getFileName(), Files.size(file))) {
      log = TraceLog.read(file, filter, bar);
    } catch (NoSuchFileException e) {
      throw new IOException(file + ": No such file");
    } catch (IllegalArgumentException e) {
      throw new IOException(e.getMessage());
    }
    try {
      new TracePlot(plot).write(log, title != null ? title : file.getFileName().toString(),
          filter, out, w, h);
    } catch (IllegalArgumentException e) {
      throw new IOException(file + ": " + e.getMessage());
    }
    jdm.out().println(out + ": " + log.size() + " of " + log.records() + " requests ("
        + filter.ops().stream().map(TraceLog::opName).collect(Collectors.joining(",")) + ")"
        + (log.errors() > 0 ? ", " + log.errors() + " failed" : ""));
    return 0;
  }
}
