package dev.jdm.cli;

import java.util.stream.Collectors;

/**
 * Hides the keys of {@code crypt} lines in table text, as dmsetup does unless {@code --showkeys}:
 * each hex digit of the key becomes {@code 0}; a keyring reference ({@code :32:logon:desc}) or
 * {@code -} stays. The lines keep their shape, so scripts that read the table still parse it.
 */
final class CryptKeys {
  private CryptKeys() {}

  static String hide(String table) {
    if (!table.contains(" crypt ")) {
      return table;
    }
    String hidden = table.lines().map(CryptKeys::hideLine).collect(Collectors.joining("\n"));
    return table.endsWith("\n") ? hidden + "\n" : hidden;
  }

  /** {@code [name: ]<start> <length> crypt <cipher> <key> ...}: the key is the fifth word on. */
  private static String hideLine(String line) {
    String[] w = line.split(" ", -1);
    for (int i = 2; i + 2 < w.length; i++) {
      if (w[i].equals("crypt") && isNumber(w[i - 1]) && isNumber(w[i - 2])
          && (i == 2 || w[i - 3].endsWith(":"))) {
        String key = w[i + 2];
        if (!key.startsWith(":") && !key.equals("-")) {
          w[i + 2] = "0".repeat(key.length());
        }
        return String.join(" ", w);
      }
    }
    return line;
  }

  private static boolean isNumber(String s) {
    return !s.isEmpty() && s.chars().allMatch(c -> c >= '0' && c <= '9');
  }
}
