package dev.jdm.cli;

import dev.jdm.luks.LuksException;
import dev.jdm.luks.LuksVolume;
import dev.jdm.luks.NoKeyException;
import java.io.ByteArrayOutputStream;
import java.io.Console;
import java.io.IOException;
import java.io.InputStream;
import java.nio.CharBuffer;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code jdm luks open|close|dump}: cryptsetup's luksOpen, close and luksDump for LUKS1 and LUKS2
 * volumes. Like cryptsetup, this command reads the header and derives the volume key itself; the
 * daemon only gets the resulting {@code crypt} table.
 */
@Command(name = "luks", mixinStandardHelpOptions = true,
    description = "Open, close and show LUKS1 and LUKS2 volumes (as cryptsetup's luksOpen, close"
        + " and luksDump), mapped by jdm's crypt target.")
final class LuksCommand {
  @ParentCommand
  Jdm jdm;

  @Command(name = "open", mixinStandardHelpOptions = true,
      description = "Unlock the LUKS volume IMAGE and create device NAME over its data segment."
          + " The passphrase comes from --key-file, else from the terminal, else from standard"
          + " input up to its first newline.")
  int open(
      @Parameters(index = "0", paramLabel = "IMAGE", description = "A LUKS1 or LUKS2 image file"
          + " or block device.") Path image,
      @Parameters(index = "1", paramLabel = "NAME", description = "The device to create.")
          String name,
      @Option(names = {"-d", "--key-file"}, paramLabel = "FILE",
          description = "Read the passphrase from FILE, all of it (- for all of standard input).")
          String keyFile,
      @Option(names = {"-r", "--readonly"}, description = "Create the device read-only.")
          boolean readOnly) throws IOException {
    LuksVolume volume = read(image);
    byte[] passphrase = passphrase(keyFile, image);
    byte[] key;
    try {
      key = volume.unlock(passphrase);
    } catch (NoKeyException e) {
      jdm.err().println(e.getMessage());
      return Jdm.FAILED;
    } catch (LuksException e) {
      throw new IOException(image + ": " + e.getMessage(), e);
    } finally {
      Arrays.fill(passphrase, (byte) 0);
    }
    String table;
    try {
      table = volume.table(key, image.toAbsolutePath().normalize().toString(), size(image));
    } catch (LuksException e) {
      throw new IOException(e.getMessage(), e);
    } finally {
      Arrays.fill(key, (byte) 0);
    }
    return jdm.send("create", List.of(name, Boolean.toString(readOnly), table));
  }

  @Command(name = "close", mixinStandardHelpOptions = true,
      description = "Remove device NAME (as 'cryptsetup close').")
  int close(@Parameters(paramLabel = "NAME", description = "The device's name.") String name)
      throws IOException {
    return jdm.send("remove", List.of(name, "false"));
  }

  @Command(name = "dump", mixinStandardHelpOptions = true,
      description = "Show the header of the LUKS volume IMAGE: its segment, keyslots and"
          + " digests, without salts, digests or keys.")
  int dump(@Parameters(paramLabel = "IMAGE", description = "A LUKS1 or LUKS2 image.") Path image)
      throws IOException {
    jdm.out().print(read(image).dump());
    jdm.out().flush();
    return 0;
  }

  private static LuksVolume read(Path image) throws IOException {
    try {
      return LuksVolume.read(image);
    } catch (NoSuchFileException e) {
      throw new IOException(image + ": No such file");
    } catch (LuksException e) {
      throw new IOException(image + ": " + e.getMessage(), e);
    }
  }

  /** The image's size in bytes, a regular file's or a block device's. */
  private static long size(Path image) throws IOException {
    if (Files.isRegularFile(image)) {
      return Files.size(image);
    }
    try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ)) {
      return ch.size();
    }
  }

  /** The passphrase as cryptsetup takes it, as bytes. */
  private byte[] passphrase(String keyFile, Path image) throws IOException {
    if (keyFile != null) {
      if (keyFile.equals("-")) {
        return jdm.in().readAllBytes();
      }
      try {
        return Files.readAllBytes(Path.of(keyFile));
      } catch (NoSuchFileException e) {
        throw new IOException(keyFile + ": No such file");
      }
    }
    Console console = System.console();
    if (console != null && console.isTerminal() && jdm.in() == System.in) {
      char[] typed = console.readPassword("Enter passphrase for %s: ", image);
      if (typed == null) {
        throw new IOException("no passphrase given");
      }
      ByteBuffer b = StandardCharsets.UTF_8.encode(CharBuffer.wrap(typed));
      Arrays.fill(typed, '\0');
      byte[] out = new byte[b.remaining()];
      b.get(out);
      return out;
    }
    return firstLine(jdm.in());
  }

  /** Standard input up to its first newline, without it. */
  private static byte[] firstLine(InputStream in) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    for (int c; (c = in.read()) >= 0 && c != '\n'; ) {
      line.write(c);
    }
    return line.toByteArray();
  }
}
