//! `cargo xtask reset <chapter> <exercise>`: gives an exercise its skeleton back, after
//! saving the student's version under `target/xtask/reset/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::cargo::target_dir;
use crate::chapters::{self, relative, Chapter};
use crate::skeletons;

/// `cargo xtask reset`: `chapter` as `ch05_sync` or `ch05`, `exercise` as `ex3` or `3`.
pub fn run(root: &Path, chapter: &str, exercise: &str) -> Result<(), String> {
    let chapters = chapters::select(chapters::discover(root)?, &[chapter.to_owned()])?;
    let chapter = chapters
        .first()
        .expect("select keeps the one chapter it names");
    for line in reset(root, chapter, exercise)? {
        println!("{line}");
    }
    Ok(())
}

/// Restores the file of `exercise` in `chapter`'s skeleton; says what it did, one line
/// per file.
pub fn reset(root: &Path, chapter: &Chapter, exercise: &str) -> Result<Vec<String>, String> {
    let number = exercise.strip_prefix("ex").unwrap_or(exercise);
    let id = match number.parse::<u32>() {
        Ok(n) => format!("ex{n}"),
        Err(_) => exercise.to_owned(),
    };
    let exercises = chapters::exercise_files(root, &chapter.solution);
    let Some(file) = exercises.get(&id) else {
        let known: Vec<&str> = exercises.keys().map(String::as_str).collect();
        return Err(format!(
            "{} has no exercise `{exercise}`; its exercises: {}",
            chapter.name,
            known.join(", ")
        ));
    };
    let inside = Path::new(&file.path)
        .strip_prefix(relative(root, &chapter.solution))
        .expect("an exercise file of the solution lies in its directory")
        .to_path_buf();
    let generated = skeletons::generate(root, &[chapter]).map_err(|e| e.join("\n"))?;
    let skeleton = &generated[0][&inside];
    let path = chapter.skeleton.join(&inside);
    let shown = relative(root, &path);
    let mine = fs::read(&path).ok();
    if mine.as_ref() == Some(skeleton) {
        return Ok(vec![format!(
            "{shown}: already the skeleton of {id}, nothing to do"
        )]);
    }
    let mut said = Vec::new();
    if let Some(mine) = mine {
        let backup = backup_dir(root, chapter)?.join(&inside);
        let io = |e: std::io::Error| format!("saving your version to {}: {e}", backup.display());
        fs::create_dir_all(backup.parent().expect("a file has a parent")).map_err(io)?;
        fs::write(&backup, mine).map_err(io)?;
        said.push(format!(
            "{shown}: your version is saved in {}",
            relative(root, &backup)
        ));
    }
    let io = |e: std::io::Error| format!("writing {shown}: {e}");
    fs::create_dir_all(path.parent().expect("a file has a parent")).map_err(io)?;
    fs::write(&path, skeleton).map_err(io)?;
    let mut also: Vec<&str> = exercises
        .iter()
        .filter(|(other, f)| **other != id && f.path == file.path)
        .map(|(other, _)| other.as_str())
        .collect();
    also.insert(0, &id);
    said.push(format!(
        "{shown}: {} back to the skeleton",
        match also.as_slice() {
            [one] => format!("{one} is"),
            many => format!("{} are", many.join(" and ")),
        }
    ));
    Ok(said)
}

/// `target/xtask/reset/<chapter>/<seconds since 1970>`, new for each reset.
fn backup_dir(root: &Path, chapter: &Chapter) -> Result<PathBuf, String> {
    let base = target_dir(root).join("xtask/reset").join(&chapter.name);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut dir = base.join(now.to_string());
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = base.join(format!("{now}-{n}"));
    }
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skeletons::tests::{Scratch, DEMO};

    #[test]
    fn reset_restores_the_skeleton_and_keeps_the_students_version() {
        let scratch = Scratch::new("reset", &DEMO);
        let chapter = scratch.chapter();
        crate::skeletons::run(&scratch.root, std::slice::from_ref(&chapter)).unwrap();
        let skeleton = scratch.read("chapters/ch09_demo/src/one.rs");
        let mine = skeleton.replace("todo!(\"one\")", "2");
        let one = scratch.root.join("chapters/ch09_demo/src/one.rs");
        fs::write(&one, &mine).unwrap();

        let said = reset(&scratch.root, &chapter, "1").unwrap();
        assert_eq!(scratch.read("chapters/ch09_demo/src/one.rs"), skeleton);
        assert_eq!(said.len(), 2, "{said:?}");
        let backup = said[0]
            .split("saved in ")
            .nth(1)
            .expect("the backup is named");
        assert!(backup.contains("xtask/reset/ch09_demo/"), "{said:?}");
        assert_eq!(scratch.read(backup), mine);

        // Twice: nothing to save, nothing to do.
        let said = reset(&scratch.root, &chapter, "ex1").unwrap();
        assert!(said[0].contains("nothing to do"), "{said:?}");

        // A deleted file comes back.
        fs::remove_file(&one).unwrap();
        reset(&scratch.root, &chapter, "ex1").unwrap();
        assert_eq!(scratch.read("chapters/ch09_demo/src/one.rs"), skeleton);

        let unknown = reset(&scratch.root, &chapter, "ex7").unwrap_err();
        assert!(unknown.contains("its exercises: ex1"), "{unknown}");
    }
}
