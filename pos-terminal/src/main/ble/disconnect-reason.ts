/** HCI disconnect reasons (Core Vol 1, Part F) as the short strings the ports report. */
export const disconnectReason = (code: number | undefined): string => {
  switch (code) {
    case 0x08:
      return 'supervision_timeout';
    case 0x13:
      return 'remote_user_terminated';
    case 0x16:
      return 'local_host_terminated';
    case 0x3e:
      return 'failed_to_establish';
    case undefined:
      return 'unknown';
    default:
      return `hci_0x${code.toString(16).padStart(2, '0')}`;
  }
};
