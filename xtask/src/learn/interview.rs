//! `cargo xtask interview`: interview questions on what the track builds, from
//! `stages/interview.toml`, per subtrack or per stage; a question's model answer and follow-up
//! only when asked for (`--answer N`), as hints are.

use std::path::Path;

use grader::manifest::Manifest;
use serde::Deserialize;

/// The file that holds the questions.
pub const INTERVIEW_FILE: &str = "stages/interview.toml";

/// One question.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// The subtrack's name or the stage's full name it belongs to.
    #[serde(rename = "for")]
    pub target: String,
    /// The question.
    pub question: String,
    /// A model answer that points at what the learner built and measured.
    pub answer: String,
    /// What an interviewer asks next.
    pub follow_up: String,
}

#[derive(Debug, Deserialize)]
struct InterviewFile {
    question: Vec<Question>,
}

/// Every question, in the file's order.
pub fn load(root: &Path) -> anyhow::Result<Vec<Question>> {
    let file: InterviewFile = super::load_list(root, INTERVIEW_FILE)?;
    Ok(file.question)
}

fn wrapped(out: &mut String, text: &str, first: &str, rest: &str) {
    for (index, line) in super::starter::wrap(text, 90).iter().enumerate() {
        out.push_str(if index == 0 { first } else { rest });
        out.push_str(line);
        out.push('\n');
    }
}

/// `cargo xtask interview [WHICH] [--answer N]`: with nothing, what there is; with a subtrack
/// or a stage, its questions (a stage's own, then its subtrack's), numbered; with `--answer N`,
/// question N's model answer and follow-up.
pub fn interview(
    root: &Path,
    manifest: &Manifest,
    which: Option<&str>,
    answer: Option<usize>,
) -> anyhow::Result<String> {
    let list = load(root)?;
    let count = |target: &str| list.iter().filter(|q| q.target == target).count();
    let Some(which) = which else {
        let mut out = String::from("Interview questions, by subtrack:\n");
        for subtrack in &manifest.subtracks {
            out.push_str(&format!(
                "  {:<24} {:<24} {} questions\n",
                subtrack.name,
                subtrack.title,
                count(&subtrack.name)
            ));
        }
        out.push_str("and for these exercises:\n");
        for stage in manifest.stages.iter().filter(|s| count(&s.name) > 0) {
            out.push_str(&format!(
                "  {:<24} {} questions\n",
                stage.name,
                count(&stage.name)
            ));
        }
        out.push_str("`cargo xtask interview SUBTRACK` or `cargo xtask interview STAGE` lists them (a stage's come with its subtrack's).\n");
        return Ok(out);
    };
    let (label, targets, short) = match manifest
        .subtracks
        .iter()
        .find(|subtrack| subtrack.name == which)
    {
        Some(subtrack) => (
            subtrack.title.clone(),
            vec![subtrack.name.clone()],
            which.to_owned(),
        ),
        None => {
            let stage = manifest.resolve(which).map_err(|error| {
                let names: Vec<&str> = manifest.subtracks.iter().map(|s| s.name.as_str()).collect();
                anyhow::anyhow!("{error}; or name a subtrack: {}", names.join(", "))
            })?;
            let mut targets = vec![stage.name.clone()];
            targets.extend(manifest.subtrack_of(&stage.name).map(|s| s.name.clone()));
            (stage.name.clone(), targets, stage.short_name())
        }
    };
    let questions: Vec<&Question> = targets
        .iter()
        .flat_map(|target| list.iter().filter(move |q| &q.target == target))
        .collect();
    if questions.is_empty() {
        return Ok(format!(
            "{label}: no questions of its own yet; `cargo xtask interview` lists what there is.\n"
        ));
    }
    match answer {
        None => {
            let mut out = format!("{label}:\n");
            for (index, question) in questions.iter().enumerate() {
                wrapped(
                    &mut out,
                    &question.question,
                    &format!("{:>3}. ", index + 1),
                    "     ",
                );
            }
            out.push_str(&format!(
                "Answer one yourself first; then `cargo xtask interview {short} --answer N` shows a model answer and the follow-up.\n"
            ));
            Ok(out)
        }
        Some(number) => {
            let Some(question) = number.checked_sub(1).and_then(|at| questions.get(at)) else {
                anyhow::bail!(
                    "{label} has questions 1 to {}; there is no question {number}",
                    questions.len()
                );
            };
            let mut out = String::new();
            wrapped(&mut out, &question.question, &format!("{number}. "), "   ");
            out.push('\n');
            wrapped(&mut out, &question.answer, "model answer: ", "  ");
            out.push('\n');
            wrapped(&mut out, &question.follow_up, "follow-up: ", "  ");
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_are_listed_without_answers_and_an_answer_comes_when_asked() {
        let root = crate::workspace_root();
        let manifest = crate::manifest().unwrap();
        let list = load(&root).unwrap();
        let first = list.iter().find(|q| q.target == "crdts").unwrap();
        let listed = interview(&root, &manifest, Some("crdts"), None).unwrap();
        assert!(listed.contains("  1. "), "{listed}");
        assert!(!listed.contains("model answer: "), "{listed}");
        let words: Vec<&str> = first.answer.split_whitespace().take(8).collect();
        assert!(
            !listed.contains(&words.join(" ")),
            "an answer leaked: {listed}"
        );
        let shown = interview(&root, &manifest, Some("crdts"), Some(1)).unwrap();
        assert!(shown.contains("model answer: "), "{shown}");
        assert!(shown.contains("follow-up: "), "{shown}");
        // A stage's questions come with its subtrack's.
        let stage = interview(&root, &manifest, Some("18"), None).unwrap();
        assert!(stage.starts_with("stage-18-version-vectors"), "{stage}");
        assert!(stage.contains(&first.question[..30]), "{stage}");
        assert!(interview(&root, &manifest, Some("crdts"), Some(99)).is_err());
        let all = interview(&root, &manifest, None, None).unwrap();
        assert!(all.contains("gossip-protocol"), "{all}");
    }
}
