/** Money in minor units as the cashier types it back (5.00). */
export const formatMinor = (minor: number): string => (minor / 100).toFixed(2);
