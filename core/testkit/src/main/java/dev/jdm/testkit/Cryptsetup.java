package dev.jdm.testkit;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/** The real cryptsetup, for tests of LUKS volumes: images formatted fast, keys it reports. */
public final class Cryptsetup {
  private Cryptsetup() {}

  /**
   * {@code cryptsetup luksFormat} with cheap key derivation, so that tests stay fast.
   *
   * @param type {@code luks1} or {@code luks2}
   * @param kdf for LUKS2: {@code pbkdf2}, {@code argon2i} or {@code argon2id}
   * @param sectorSize for LUKS2: the data segment's sector size
   */
  public static List<String> luksFormat(String type, String kdf, int sectorSize, Path keyFile,
      Path image) {
    List<String> cmd = new ArrayList<>(List.of("cryptsetup", "luksFormat", "--batch-mode",
        "--type", type, "--key-file", keyFile.toString()));
    if (type.equals("luks1")) {
      cmd.addAll(List.of("--iter-time", "10"));
    } else {
      cmd.addAll(kdf.equals("pbkdf2")
          ? List.of("--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000")
          : List.of("--pbkdf", kdf, "--pbkdf-memory", "64", "--pbkdf-parallel", "2",
              "--pbkdf-force-iterations", "4"));
      cmd.addAll(List.of("--sector-size", Integer.toString(sectorSize)));
    }
    cmd.add(image.toString());
    return cmd;
  }

  /** The volume key as {@code cryptsetup luksDump --dump-volume-key} prints it. */
  public static byte[] volumeKey(ExternalTools tools, Path keyFile, Path image) throws Exception {
    String out = tools.ok(List.of("cryptsetup", "luksDump", "--dump-volume-key", "--batch-mode",
        "--key-file", keyFile.toString(), image.toString()), 60);
    StringBuilder hex = new StringBuilder();
    boolean inKey = false;
    for (String line : out.split("\n")) {
      if (line.startsWith("MK dump:") || line.startsWith("Volume key:")) {
        inKey = true;
        line = line.substring(line.indexOf(':') + 1);
      } else if (inKey && !line.startsWith("\t") && !line.startsWith(" ")) {
        inKey = false;
      }
      if (inKey) {
        hex.append(line.replaceAll("[^0-9a-fA-F]", ""));
      }
    }
    return HexFormat.of().parseHex(hex.toString());
  }
}
