package dev.jdm.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code jdm plugin ls|load|unload}: target plugins in a running daemon, as lsmod, insmod and
 * rmmod are for kernel modules. No restart.
 */
@Command(name = "plugin", mixinStandardHelpOptions = true,
    description = "List, load and unload target plugin jars in the running daemon, without a"
        + " restart.")
final class PluginCommand {
  @ParentCommand
  Jdm jdm;

  @Command(name = "ls", mixinStandardHelpOptions = true,
      description = "List the plugins loaded, one per line: jar (its file name when it is in the"
          + " plugins directory), plugin id, version, its target types (comma-separated).")
  int ls() throws IOException {
    return jdm.send("plugin-ls", List.of());
  }

  @Command(name = "load", mixinStandardHelpOptions = true,
      description = "Load the plugin jar JAR; without JAR, every jar in the daemon's plugins"
          + " directory that is not loaded yet (those dropped in since it started). Prints what"
          + " it loaded as 'ls' does. A jar is refused, by name, when it is broken, when its"
          + " Plugin-Requires does not accept the daemon's SPI version, or when a target type"
          + " of it is already registered.")
  int load(@Parameters(arity = "0..1", paramLabel = "JAR", description = "A plugin jar.")
      Path jar) throws IOException {
    // The daemon runs elsewhere: send it a path that does not depend on our directory.
    return jdm.send("plugin-load",
        Optional.ofNullable(jar).map(j -> j.toAbsolutePath().normalize().toString()).stream()
            .toList());
  }

  @Command(name = "unload", mixinStandardHelpOptions = true,
      description = "Unload plugin ID: its target types go from 'jdm targets' and its jar is"
          + " closed. Refused (Device or resource busy) while a live or inactive table uses one"
          + " of its types; remove those devices, or clear their inactive tables, first.")
  int unload(@Parameters(paramLabel = "ID", description = "The plugin's id, as 'ls' shows it.")
      String id) throws IOException {
    return jdm.send("plugin-unload", List.of(id));
  }
}
