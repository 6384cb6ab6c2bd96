// Durable commits: a file's data on the disk before its name says it is
// whole. rename() after close() orders nothing on the disk: after a power
// loss or a node crash the new name may hold a file of zeros or cut short
// (ext4 and XFS delay the data, not the rename), and "NAME exists, so it is
// whole" (io/commit.h) would be false. So the data is synced before the
// rename and the folder after it.
#pragma once

#include <string>

namespace distclust {

/// fsync of the regular file at path (opened for writing where allowed):
/// 0, or the errno of the open or the sync. Anything else at path (a FIFO)
/// and a file system or handle that cannot sync (EINVAL, EROFS, EBADF)
/// count as synced.
int sync_file(const std::string& path);

/// syncfs of the file system holding path: every file written there (an
/// output folder's CSV, links and thumbnails, however they were written)
/// on the disk. 0, or the errno (a writeback error the kernel kept).
int sync_file_system(const std::string& path);

/// fsync of the folder holding path (after a rename into it), so that the
/// new name survives a crash. Best effort: a folder that cannot be opened
/// or synced is left as it is.
void sync_parent_folder(const std::string& path);

}  // namespace distclust
