/** errno values rtnetlink answers with (Linux, all architectures we run on). */
import { constants } from 'node:os';

export const EEXIST = constants.errno.EEXIST;
export const ENOENT = constants.errno.ENOENT;
export const ESRCH = constants.errno.ESRCH;
export const ENODEV = constants.errno.ENODEV;
export const ENETUNREACH = constants.errno.ENETUNREACH;
export const EINVAL = constants.errno.EINVAL;
