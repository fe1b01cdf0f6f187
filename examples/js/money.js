// Amounts are ints of the minor unit (PROTOCOL.md section 11.9): format them without floats.

/** e.g. formatMoney(1750000, "IDR", 2) is "IDR 17500.00". */
export function formatMoney(amount, currency, exponent) {
  const sign = amount < 0 ? "-" : "";
  const digits = String(Math.abs(amount)).padStart(exponent + 1, "0");
  const units = digits.slice(0, digits.length - exponent);
  const minor = exponent > 0 ? "." + digits.slice(digits.length - exponent) : "";
  return `${currency} ${sign}${units}${minor}`;
}
